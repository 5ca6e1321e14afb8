"""The runnable examples (examples/), each run as its README says, against the real server.

Their npm packages are installed by `make examples` (a dependency of `make test`), like tests/js's
by `make node`; the TypeScript example is compiled once per session with its own `npm run build`.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.live import ROOT
from tests.notifications.conftest import Tenant, _tenant

EXAMPLES = ROOT / "examples"


def readme_shows(readme: Path, command: str) -> None:
    """The test runs what the example's README tells a reader to run, word for word."""
    assert command in readme.read_text(), f"{readme.relative_to(ROOT)} no longer shows `{command}`"


class Running:
    """A long-running example: its stdout and stderr lines, read as they come."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]):
        self.process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: dict[str, queue.Queue[str]] = {"stdout": queue.Queue(), "stderr": queue.Queue()}
        self.seen: list[str] = []  # every line of both, for failure messages
        for name in self.lines:
            threading.Thread(target=self._read, args=(name,), daemon=True).start()

    def _read(self, name: str) -> None:
        for line in getattr(self.process, name):
            self.seen.append(f"{name}: {line.rstrip()}")
            self.lines[name].put(line.rstrip("\n"))

    def wait_line(self, stream: str, predicate, timeout: float = 10) -> str:
        """The next line of ``stream`` for which ``predicate`` holds (earlier ones are dropped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines[stream].get(timeout=min(left, 0.2))
            except queue.Empty:
                if self.process.poll() is not None and self.lines[stream].empty():
                    break
                continue
            if predicate(line):
                return line
        raise AssertionError(
            f"no such {stream} line within {timeout}s; exit code {self.process.poll()}; "
            "output:\n" + "\n".join(self.seen)
        )

    def wait_json(self, predicate, timeout: float = 10) -> dict:
        def matches(line: str) -> bool:
            try:
                return predicate(json.loads(line))
            except ValueError:
                return False

        return json.loads(self.wait_line("stdout", matches, timeout))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def run_example(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env={**os.environ, **env}, text=True, capture_output=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def examples_installed() -> Path:
    if not (EXAMPLES / "node_modules" / ".installed").exists():
        pytest.fail("examples/node_modules is not installed: run `make examples` (make test does)", pytrace=False)
    return EXAMPLES


@pytest.fixture
def tenant(daphne_server, transactional_db) -> Tenant:
    """A workspace with a client, a signing key and API users, as an admin would set one up."""
    return _tenant("examples")


@pytest.fixture
def started():
    """``started(args, cwd=, env=)``: a long-running example, stopped after the test."""
    running: list[Running] = []

    def start(args: list[str], *, cwd: Path = EXAMPLES, env: dict[str, str]) -> Running:
        running.append(Running(args, cwd=cwd, env=env))
        return running[-1]

    yield start
    for process in running:
        process.stop()
