"""Starting and stopping the servers the bench drives: each a real process on a free loopback port.

The same idea as tests/live.py (explicit environment, DEBUG off, wait for a probe), but without
pytest-django: the bench has its own database and secrets under a temporary VAR_DIR.
"""

from __future__ import annotations

import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit() -> int:
    """Soft file-descriptor limit up to the hard one (children inherit it). Returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class BenchEnv:
    """Where the bench keeps its database and secrets, and the environment every process gets."""

    var_dir: Path
    database_url: str = ""
    redis_url: str = ""
    secrets_: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'bench.sqlite3'}"
        self.secrets_ = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "AUTHPLATFORM_PEPPER": secrets.token_urlsafe(48),
            "AUTHPLATFORM_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        # For `--keep`: re-run anything by hand against the kept database (`set -a; . ./bench.env`).
        (self.var_dir / "bench.env").write_text(
            "".join(
                f"{k}={v}\n"
                for k, v in self.env().items()
                if k in {*self.secrets_, "DATABASE_URL", "VAR_DIR", "DJANGO_SETTINGS_MODULE", "DEBUG"}
            )
        )

    def env(self, *, redis: bool = False, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "0",
            "VAR_DIR": str(self.var_dir),
            "DATABASE_URL": self.database_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
            **self.secrets_,
            **extra,
        }
        env.pop("REDIS_URL", None)
        if redis and self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env

    def popen(self, *args: str, redis: bool = False, **extra: str) -> subprocess.Popen:
        """Start a Python module/command with the bench environment, stdout and stderr piped."""
        return subprocess.Popen(
            [PYTHON, *args],
            cwd=ROOT,
            env=self.env(redis=redis, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 300, redis: bool = False, **extra: str) -> str:
        """Run a Python module/command with the bench environment; its stdout. ``redis``: with the
        bench's REDIS_URL (``env`` drops any other, so ``REDIS_URL=...`` in ``extra`` would be lost)."""
        result = subprocess.run(
            [PYTHON, *args],
            cwd=ROOT,
            env=self.env(redis=redis, **extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout


@dataclass
class Server:
    """One server process on 127.0.0.1:<port>."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    probe: str = "/healthz"  # HTTP path answered 200 when ready; "" = wait for the TCP port only
    process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def url(self, path: str = "", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> Server:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                if self.probe:
                    with urllib.request.urlopen(self.url(self.probe), timeout=2) as resp:
                        if resp.status == 200:
                            return self
                else:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def daphne(bench: BenchEnv, *, name: str = "daphne", redis: bool = False, **extra: str) -> Server:
    """The project served as `make run` does (daphne, one process), on the bench settings.

    The listen backlog is raised from Twisted's 50 to 1024, as given to uvicorn and the floor, so
    refused SYNs do not decide the connect rate.
    """
    port = free_port()
    return Server(
        name=name,
        port=port,
        log_path=bench.var_dir / f"{name}-{port}.log",
        # -v 0: no access log (uvicorn runs with --no-access-log): no row pays for a log line per request.
        argv=[
            PYTHON,
            "-m",
            "authplatform.server",
            "-v",
            "0",
            "-e",
            f"tcp:port={port}:interface=127.0.0.1:backlog=1024",
            "authplatform.asgi:application",
        ],
        env=bench.env(redis=redis, **extra),
    )


def uvicorn_socketio(bench: BenchEnv, *, name: str = "python-socketio", redis: bool = False) -> Server:
    """Peer: python-socketio's own AsyncServer under uvicorn (one process, asyncio loop like daphne);
    ``redis``: its AsyncRedisManager on the bench's Redis, for several processes."""
    port = free_port()
    return Server(
        name=name,
        port=port,
        log_path=bench.var_dir / f"{name}-{port}.log",
        argv=[
            PYTHON,
            "-m",
            "uvicorn",
            "bench.peers.sio_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "asyncio",
            "--http",
            "h11",
            "--ws",
            "websockets",
            "--ws-per-message-deflate",
            "false",
            "--backlog",
            "1024",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=bench.env(**({"SIO_REDIS_URL": bench.redis_url} if redis and bench.redis_url else {})),
        probe="/healthz",
    )


def websockets_floor(bench: BenchEnv) -> Server:
    """Floor: a bare `websockets` echo server (no Socket.IO, no auth)."""
    port = free_port()
    return Server(
        name="websockets-floor",
        port=port,
        log_path=bench.var_dir / f"websockets-floor-{port}.log",
        argv=[PYTHON, "-m", "bench.peers.ws_floor", "--port", str(port)],
        env=bench.env(),
        probe="",
    )
