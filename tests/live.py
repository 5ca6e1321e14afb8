"""Real servers and real clients for tests: a daphne subprocess on a free port, and Node.js scripts.

The daphne server runs the project exactly as production does (DEBUG off, explicit secrets), on the
test database, so tests that use it need committed data: use the ``transactional_db`` fixture.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from tests import secret_scan
from tests.openapi_conformance import conformance

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_tests() -> str:
    """A DATABASE_URL for the database the tests run on (the test database, once it exists)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


@dataclass
class LiveServer:
    """One daphne process serving the project on 127.0.0.1:<port>."""

    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def start(self, timeout: float = 30.0) -> LiveServer:
        env = {
            **os.environ,
            "DEBUG": "0",
            "DATABASE_URL": database_url_for_tests(),
            "SECRET_KEY": settings.SECRET_KEY,
            "AUTHPLATFORM_PEPPER": settings.AUTHPLATFORM["PEPPER"],
            "AUTHPLATFORM_KEY_ENCRYPTION_KEY": settings.AUTHPLATFORM["KEY_ENCRYPTION_KEY"],
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            # Every test reaches the shared server from loopback: a suite-wide count of refused
            # credentials must not turn into 429s. The throttle's own test starts a server with a small burst.
            "AUTH_FAILURE_BURST": "1000000",
            # Every record in the log, for the session's secret scan (tests/secret_scan.py).
            "LOG_LEVEL": "DEBUG",
            **self.extra_env,
        }
        log_dir = Path(settings.VAR_DIR) / "test-logs"  # beside the test databases, wherever VAR_DIR points
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"daphne-{self.port}.log"
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "authplatform.server",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "authplatform.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and getattr(self, "_scanned", None) is not self.process:  # once per process
            self._scanned = self.process
            secret_scan.collect_server_log(self.log_path, port=self.port)

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def run_node(script: str | Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> dict:
    """Run a Node.js script from tests/js; it prints one JSON object on its last stdout line."""
    result = subprocess.run(
        ["node", str(JS_DIR / script), *args],
        cwd=JS_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"node {script} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


def random_loopback() -> str:
    """A random 127.x.y.z (Linux routes all of 127.0.0.0/8 to lo). A client bound to it is a distinct
    client IP to the server: IP-bound tokens and the per-IP failure throttle see one address per test."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(254) + 1}.{secrets.randbelow(253) + 2}"


def http_event_hooks() -> dict[str, list]:
    """What every test client of the API does with each request and response: the secret scan collects
    them (tests/secret_scan.py), and each answer is checked against the OpenAPI schema
    (tests/openapi_conformance.py)."""
    hooks = secret_scan.http_event_hooks()
    hooks["response"].append(conformance.observe)
    return hooks


def api_client(server: LiveServer, ip: str | None = None) -> httpx.Client:
    """An httpx client for ``server``'s /api/v1/, connecting from ``ip`` (random loopback by default)."""
    ip = ip or random_loopback()
    client = httpx.Client(
        base_url=f"{server.api}/",
        timeout=30,
        transport=httpx.HTTPTransport(local_address=ip),
        event_hooks=http_event_hooks(),
    )
    client.source_ip = ip  # what the server sees as the client IP
    return client


def assert_error(
    response: httpx.Response, code: int, reason: str | None = None, *, invalid_authentication: bool = False
) -> dict:
    """The one error body (docs/design.md "Error body"), exactly: the flag only when credentials were bad."""
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if reason is not None:
        assert body["reason"] == reason, body
    if invalid_authentication:
        assert body["invalid_authentication"] is True, body
    else:
        assert "invalid_authentication" not in body, body
    assert set(body) <= {"code", "message", "reason", "invalid_authentication", "details"}
    return body
