"""Every shell command the docs show (README.md, docs/*.md) is run by a test or by CI.

A command is a line of an indented code block or of a ```sh / ```bash / ```console / ```shell fence;
lines starting with `#` are the output (or a comment) of the command above them, and a trailing
`# …` is a comment. Each command must be either run here, word for word, in a sandbox (a temporary
SQLite database), or match one entry of COVERED_ELSEWHERE, which names the test or CI step that runs
it. A command added to the docs with neither fails `test_every_command_in_the_docs_is_covered`.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import first_pass_only
from tests.live import ROOT, free_port

# Every command here runs in an environment of its own (``sandbox``: a fresh SQLite database, no Redis,
# as on a fresh checkout), or reads the docs: the same in both CI passes, so in the first only.
pytestmark = [first_pass_only]

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCES = {"sh", "bash", "console", "shell"}

# Commands this module runs itself (the tests below), as patterns over the command's whole text.
RUN_HERE = {
    r"make run": "test_make_run_serves_the_admin_and_prints_its_password",
    r"\.venv/bin/python manage\.py create(workspace|client|signingkey|apiuser) .*--json": (
        "test_bootstrap_commands_print_what_the_docs_show"
    ),
    r"\.venv/bin/python manage\.py purgeinbox .*--json": "test_purgeinbox_prints_what_the_docs_show",
    r"redis-server --port \d+ --daemonize yes --save \"\"": "test_the_bench_redis_server_starts_as_shown",
}

# Commands run elsewhere: the pattern, and the test (`module::function`) or CI step
# (`CI: <file>: <text the file runs>`) that runs it.
COVERED_ELSEWHERE = {
    r"make test": "CI: .ci/run: make test",
    # `make test` depends on `make examples`, which is exactly these two in examples/.
    r"cd examples": "CI: Makefile: cd examples && npm ci",
    r"npm ci": "CI: Makefile: cd examples && npm ci",
    # The test loads the CUSTOMER_* block (Tenant.customer_env) into the server's environment.
    r"set -a; \. \./customer\.env; set \+a": (
        "tests.examples.test_browser_inbox::test_the_page_shows_messages_live_and_its_badge_follows_sends_and_reads"
    ),
    r"(PLATFORM_URL=\S+ PORT=\d+ )?node browser-inbox/server\.mjs": (
        "tests.examples.test_browser_inbox::test_the_page_shows_messages_live_and_its_badge_follows_sends_and_reads"
    ),
    r"export PLATFORM_URL=\S+ CLIENT_KEY=\S+ CLIENT_SECRET=\S+ PRODUCT_SPACE_CODE=\S+": (
        "tests.examples.test_examples::test_python_sender_retries_with_its_idempotency_key_and_is_replayed"
    ),
    r"(RECIPIENTS=\S+ )?\.venv/bin/python examples/python-sender/send\.py": (
        "tests.examples.test_examples::test_python_sender_retries_with_its_idempotency_key_and_is_replayed"
    ),
    # The bench runs take 1-15 minutes and need wrk: no test or CI pass runs them. What is checked is
    # that the commands name real make targets and options (test_bench_commands_name_real_targets_and_options).
    r"make bench(-quick)?( BENCH_ARGS=.*)?": (
        "tests.docs.test_doc_commands::test_bench_commands_name_real_targets_and_options"
    ),
    r"(BENCH_(REDIS|DATABASE)_URL=\S+ )+(make bench|python -m bench) .*": (
        "tests.docs.test_doc_commands::test_bench_commands_name_real_targets_and_options"
    ),
}


@dataclass
class Command:
    doc: Path
    line: int
    text: str
    output: list[str] = field(default_factory=list)  # the `#` lines that follow it

    def __str__(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}: {self.text}"


def doc_commands(doc: Path) -> list[Command]:
    """The commands of one Markdown file, in order."""
    commands: list[Command] = []
    lines = doc.read_text().splitlines()
    fence: str | None = None  # the fence's language while inside one
    block_indent: int | None = None  # the indented block's indent while inside one
    previous_blank = True
    pending = ""  # a command continued with a trailing backslash
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith("```"):
                fence = None
                continue
            if fence not in FENCES:
                continue
            text = stripped.removeprefix("$ ") if fence == "console" else stripped
        else:
            if stripped.startswith("```"):
                fence = stripped[3:].strip().lower()
                block_indent = None
                continue
            indent = len(line) - len(line.lstrip(" "))
            if block_indent is None and stripped and indent >= 4 and previous_blank:
                block_indent = indent
            elif block_indent is not None and stripped and indent < block_indent:
                block_indent = None
            previous_blank = not stripped
            if block_indent is None:
                continue
            text = stripped
        if not text:
            continue
        if text.startswith("#"):
            if commands and not pending:
                commands[-1].output.append(text.lstrip("#").strip())
            continue
        text = re.sub(r"\s+#\s.*$", "", text)  # a trailing comment
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        commands.append(Command(doc, number, pending + text))
        pending = ""
    return commands


def all_commands() -> list[Command]:
    return [command for doc in DOCS for command in doc_commands(doc)]


def covering(command: str) -> list[str]:
    """What covers ``command``: this module's tests and COVERED_ELSEWHERE's entries whose pattern matches."""
    here = [
        f"tests.docs.test_doc_commands::{test}" for pattern, test in RUN_HERE.items() if re.fullmatch(pattern, command)
    ]
    return here + [where for pattern, where in COVERED_ELSEWHERE.items() if re.fullmatch(pattern, command)]


# --- coverage ---------------------------------------------------------------------------------------


def test_the_docs_show_commands_and_the_extraction_finds_them():
    texts = [command.text for command in all_commands()]
    # One of each kind the docs are known to show: the quick start, the walk, bootstrap, purge, bench.
    assert "make run" in texts and "make test" in texts, texts
    assert any(text.startswith(".venv/bin/python manage.py createworkspace") for text in texts), texts
    assert any(text.startswith(".venv/bin/python manage.py purgeinbox") for text in texts), texts
    assert any("examples/python-sender/send.py" in text for text in texts), texts
    # Output lines are not commands, and trailing comments are dropped.
    assert not any(text.startswith(("#", "{")) for text in texts), texts
    assert not any(" # " in text for text in texts), texts


def test_every_command_in_the_docs_is_covered():
    uncovered = [str(command) for command in all_commands() if not covering(command.text)]
    assert not uncovered, (
        "commands shown in the docs that no test or CI step runs (run them in tests/docs/test_doc_commands.py "
        "or name what runs them in COVERED_ELSEWHERE):\n" + "\n".join(uncovered)
    )


def test_what_covers_a_command_exists():
    for pattern, where in COVERED_ELSEWHERE.items():
        assert any(re.fullmatch(pattern, command.text) for command in all_commands()), f"no doc shows {pattern!r}"
        if where.startswith("CI: "):
            path, _, runs = where.removeprefix("CI: ").partition(": ")
            assert runs in (ROOT / path).read_text(), f"{path} does not run `{runs}`"
            if path == "Makefile":  # a make target that `make test` (so CI) depends on
                assert re.search(r"(?m)^test: .*\bexamples\b", (ROOT / "Makefile").read_text())
        else:
            module, _, function = where.partition("::")
            assert callable(getattr(importlib.import_module(module), function, None)), f"{where} does not exist"
    for pattern, test in RUN_HERE.items():
        assert callable(globals().get(test)), test
        assert any(re.fullmatch(pattern, command.text) for command in all_commands()), f"no doc shows {pattern!r}"


# --- run here ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The environment of a fresh project checkout: its own migrated SQLite database, no Redis."""
    directory = tmp_path_factory.mktemp("doc-commands")
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}}
    env["DATABASE_URL"] = f"sqlite:///{directory}/db.sqlite3"
    run(".venv/bin/python manage.py migrate --noinput", env)
    return env


def run(command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        shlex.split(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def keys_of(example: str) -> set[str]:
    """The keys of a documented JSON output line (its values may be elided with …)."""
    return set(re.findall(r'"(\w+)":', example))


def documented(pattern: str) -> list[Command]:
    commands = [command for command in all_commands() if re.fullmatch(pattern, command.text)]
    assert commands, pattern
    return commands


def test_bootstrap_commands_print_what_the_docs_show(sandbox):
    commands = documented(r"\.venv/bin/python manage\.py create(workspace|client|signingkey|apiuser) .*--json")
    for doc in {command.doc for command in commands}:
        example_id = None  # the workspace id the doc's createworkspace example printed
        real_id = None
        for command in (command for command in commands if command.doc == doc):
            text = command.text.replace(example_id, real_id) if example_id else command.text
            printed = json.loads(run(text, sandbox))
            assert command.output, f"{command}: the docs show no output for it"
            assert set(printed) == keys_of(command.output[0]), (str(command), printed)
            if "createworkspace" in text:
                example_id = json.loads(command.output[0])["workspace_id"]
                real_id = printed["workspace_id"]


def test_purgeinbox_prints_what_the_docs_show(sandbox):
    for command in documented(r"\.venv/bin/python manage\.py purgeinbox .*--json"):
        printed = json.loads(run(command.text, sandbox))
        assert command.output and set(printed) == keys_of(command.output[0]), (str(command), printed)
        assert all(isinstance(count, int) for count in printed.values()), printed


def test_make_run_serves_the_admin_and_prints_its_password(sandbox):
    """`make run` as the quick start shows it, on a free port (the Makefile takes PORT from the environment)."""
    [command] = {command.text for command in documented("make run")}
    port = free_port()
    server = subprocess.Popen(
        shlex.split(command),
        cwd=ROOT,
        env={**sandbox, "PORT": str(port), "HOST": "127.0.0.1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make, manage.py and the server: ended together below
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/admin/login/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "make run did not serve within 120 s"
                time.sleep(0.5)
        assert answer.status_code == 200 and "password" in answer.text.lower()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/admin/" in output, output  # where to sign in, with the one-time password


def test_bench_commands_name_real_targets_and_options():
    """The bench commands are not run here (minutes each, wrk): their targets, options and groups are real."""
    makefile = (ROOT / "Makefile").read_text()
    help_text = run(".venv/bin/python -m bench --help", dict(os.environ))
    groups = set(
        re.search(r"row groups: ([\w, \n]+)", help_text).group(1).replace("\n", " ").replace(" ", "").split(",")
    )
    patterns = [
        p
        for p, where in COVERED_ELSEWHERE.items()
        if where.endswith("::" + test_bench_commands_name_real_targets_and_options.__name__)
    ]
    commands = [command for command in all_commands() if any(re.fullmatch(p, command.text) for p in patterns)]
    assert commands
    for command in commands:
        words = shlex.split(command.text)
        for target in (word for word in words if word.startswith("bench")):
            assert re.search(rf"(?m)^{re.escape(target)}:", makefile), f"{command}: no make target {target}"
        options = [word for word in words if word.startswith("--")]
        options += [word for arg in words if arg.startswith("BENCH_ARGS=") for word in arg.split("=", 1)[1].split()]
        for option in (option for option in options if option.startswith("--")):
            assert re.search(rf"\s{re.escape(option)}\b", help_text), f"{command}: python -m bench has no {option}"
        for value in re.findall(r"--only[ =](\w+)", " ".join(words)):
            assert value in groups, f"{command}: no bench group {value}"


def test_the_bench_redis_server_starts_as_shown(tmp_path):
    """The bench's own Redis, as docs/performance.md starts it, on a free port instead of the one shown
    (and its log in a file, to say why when it does not answer). A free port can be taken by another
    process before Redis binds it (once in CI's second pass, with a dozen servers starting): up to three
    ports are tried, each failure with Redis's own words."""
    for command in documented(r"redis-server --port \d+ --daemonize yes --save \"\""):
        failures = []
        for attempt in range(3):
            port, log = free_port(), tmp_path / f"redis-{command.line}-{attempt}.log"
            run(re.sub(r"--port \d+", f"--port {port} --logfile {log}", command.text), dict(os.environ))
            try:
                deadline = time.monotonic() + 10
                while (answer := redis_ping(port)) != "PONG" and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False)
            if answer == "PONG":
                break
            failures.append(f"port {port}: {log.read_text()[-500:] if log.exists() else 'no log'}")
        assert len(failures) < 3, f"{command}: no answer: {failures}"


def redis_ping(port: int) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip()
