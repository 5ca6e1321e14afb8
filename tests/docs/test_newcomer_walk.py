"""The README's "Five minutes: from the admin to a live message", taken as a newcomer takes it.

`make run` on a fresh database (signing in with the password it prints), the admin in Chromium (a
workspace with its product space, a client whose key and secret are copied from the show-once page,
a key pair whose CUSTOMER_* block is copied), the example browser page with that block, the example
Python sender with the client's key and secret, and the message live on the page with its badge.
Nothing is set up behind the walk's back: the server is `make run`'s own, with its own database.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time

import httpx
import pytest

from tests.browser.admin_steps import click_link, shown_once, submit
from tests.browser.conftest import CHROMIUM, browser_context  # noqa: F401  (the module's Chromium)
from tests.docs.test_doc_commands import ROOT, documented
from tests.examples.conftest import examples_installed, started  # noqa: F401  (fixtures)
from tests.live import free_port

pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
from playwright.sync_api import expect  # noqa: E402

from tests.conftest import first_pass_only

pytestmark = [
    first_pass_only,  # its own environment: make run on a fresh SQLite database
    pytest.mark.live,
    pytest.mark.node,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (make test installs it)"),
]


def env_block(text: str) -> dict[str, str]:
    return dict(re.findall(r'^(CUSTOMER_[A-Z_]+)="(.*)"$', text, re.MULTILINE))


@pytest.fixture
def make_run(tmp_path):
    """`make run` as the README shows it, on a free port and a database of its own; (url, its output)."""
    [command] = {command.text for command in documented("make run")}
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", PORT=str(port), HOST="127.0.0.1")
    log = tmp_path / "make-run.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            shlex.split(command), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                httpx.get(f"{url}/admin/login/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "make run did not serve within 120 s"
                time.sleep(0.5)
        yield url, log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_the_readme_walk_from_make_run_to_a_live_message(make_run, browser_context, examples_installed, started):  # noqa: F811
    url, output = make_run
    # 1. Sign in as admin with the password `make run` printed.
    password = re.search(r"password: (\S+)", output).group(1)
    page = browser_context.new_page()
    page.base = url
    page.goto(f"{url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{url}/admin/")

    # 2. Workspaces -> Add workspace: a name and its first product space's name.
    click_link(page, "Workspaces")
    click_link(page, "Add workspace")
    submit(page, "Create workspace", name="acme", product_space_name="web")

    # 3. On the workspace's page, Create client: key and secret from the page that shows them once.
    click_link(page, "Create client")
    submit(page, "Create client", name="backend")
    client_key = re.search(r"ck_[A-Za-z0-9]+", page.content()).group(0)
    [client_secret] = shown_once(page, count=1)

    # 4. Customer signing keys -> Generate key pair: the CUSTOMER_* block, with alice as the customer.
    page.goto(f"{url}/admin/")
    click_link(page, "Customer signing keys")
    click_link(page, "Generate key pair")
    page.select_option(
        "[name=workspace]", label=page.locator("[name=workspace] option", has_text="acme").first.inner_text()
    )
    with page.expect_navigation():
        page.click('input[type=submit][value="Generate"]')
    _private_pem, block = shown_once(page, count=2)
    customer_env = {**env_block(block), "CUSTOMER_UNIQUE_CUSTOMER_ID": "alice"}

    # 5. The example browser page, signed in as alice, live over Socket.IO.
    port = free_port()
    backend = started(
        ["node", "browser-inbox/server.mjs"], env={"PLATFORM_URL": url, "PORT": str(port), **customer_env}
    )
    backend.wait_line("stdout", lambda line: line.startswith("inbox page on "))
    inbox = browser_context.new_page()
    inbox.goto(f"http://127.0.0.1:{port}/")
    expect(inbox.locator("#status")).to_have_text("live")
    expect(inbox.locator("#badge")).to_have_text("0")

    # 6. The example sender, as the backend, to alice.
    sent = subprocess.run(
        [".venv/bin/python", "examples/python-sender/send.py"],
        cwd=ROOT,
        env={
            **os.environ,
            "PLATFORM_URL": url,
            "CLIENT_KEY": client_key,
            "CLIENT_SECRET": client_secret.strip(),
            "PRODUCT_SPACE_CODE": customer_env["CUSTOMER_PRODUCT_SPACE_CODE"],
            "RECIPIENTS": "alice",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    expect(inbox.locator("li")).to_have_count(1)
    expect(inbox.locator("#badge")).to_have_text("1")
    # Mark read brings the badge down.
    inbox.locator("li button").first.click()
    expect(inbox.locator("#badge")).to_have_text("0")
