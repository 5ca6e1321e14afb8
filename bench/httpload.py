"""HTTP load from another process: wrk (C, one thread), so the load generator takes as little of the
two shared cores as possible. A run is ended with SIGINT after its duration (wrk then reports as it
would at the end of ``-d``), which allows sub-second runs for ``bench-quick``.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk_report.lua"


def wrk_path() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk).")
    return path


def check(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """One request: (status, body) — a row is measured only if this answers 200."""
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(300).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(300).decode(errors="replace")


def get_json(url: str, headers: dict[str, str]) -> tuple[int, dict | None]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def post_json(url: str, headers: dict[str, str], payload) -> tuple[int, str]:
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(500).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode(errors="replace")


def wrk(url: str, headers: dict[str, str], *, seconds: float, connections: int) -> dict:
    """One wrk run: requests/s, p50/p99 latency (ms) and error counts."""
    argv = [wrk_path(), "-t1", f"-c{connections}", "-d3600s", "--timeout", "10s", "-s", str(LUA)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    proc = subprocess.Popen([*argv, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}\n{err}")
    r = json.loads(line[len("WRKJSON ") :])
    seconds_run = r["duration_us"] / 1e6
    return {
        "rps": r["requests"] / seconds_run if seconds_run else 0.0,
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "max_ms": r["max_us"] / 1000,
        "requests": r["requests"],
        "non2xx": r["non2xx"],
        "socket_errors": r["connect"] + r["read"] + r["write"] + r["timeout"],
    }


def timed(url: str, requests: list[tuple[str, dict | None]], headers: dict[str, str]) -> list[tuple[float, int, bytes]]:
    """Requests one after another on one keep-alive connection, as a client app's one tab makes them:
    ``(method, JSON body or None)`` each; per request (ms from sending to the whole answer read, status,
    body). Latency of one request at a time, not throughput: wrk would time a queue of its own."""
    import http.client

    parsed = urllib.parse.urlsplit(url)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    out = []
    try:
        for method, payload in requests:
            body = None if payload is None else json.dumps(payload).encode()
            hdrs = {**headers, **({"Content-Type": "application/json"} if body is not None else {})}
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            out.append(((time.perf_counter() - t0) * 1000, resp.status, data))
    finally:
        conn.close()
    return out
