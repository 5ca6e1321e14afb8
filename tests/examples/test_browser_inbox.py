"""The browser inbox example in Chromium: its server (the customer's backend) against the real platform;
the page shows a message the moment it is sent and its badge follows sends and reads."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import CHROMIUM, browser_context  # noqa: F401  (the module's Chromium)
from tests.examples.conftest import EXAMPLES, readme_shows
from tests.live import api_client, free_port
from tests.notifications.conftest import send_ok

pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
from playwright.sync_api import expect  # noqa: E402

pytestmark = [
    pytest.mark.live,
    pytest.mark.node,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (make test installs it)"),
]

SERVER = "node browser-inbox/server.mjs"


def test_the_page_shows_messages_live_and_its_badge_follows_sends_and_reads(
    examples_installed, started, browser_context, daphne_server, tenant
):  # noqa: F811
    readme_shows(EXAMPLES / "browser-inbox" / "README.md", SERVER)
    port = free_port()
    backend = started(
        SERVER.split(), env={"PLATFORM_URL": daphne_server.url, "PORT": str(port), **tenant.customer_env("alice")}
    )
    backend.wait_line("stdout", lambda line: line.startswith("inbox page on "))
    page_url = f"http://127.0.0.1:{port}/"

    page = browser_context.new_page()
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    try:
        page.goto(page_url)
        badge = page.locator("#badge")
        expect(page.locator("#status")).to_have_text("live")
        expect(badge).to_have_text("0")

        with api_client(daphne_server) as api:
            first = send_ok(api, tenant, ["alice"], title="Invoice ready")
            expect(page.locator(f'li[data-id="{first["id"]}"] h2')).to_have_text("Invoice ready")
            expect(badge).to_have_text("1")
            second = send_ok(api, tenant, ["alice"], title="Password changed")
            send_ok(api, tenant, ["bob"], title="Not for alice")
            expect(badge).to_have_text("2")
            expect(page.locator("li")).to_have_count(2)
            expect(page.locator("li h2").first).to_have_text("Password changed")  # newest first

            # Read on the page: its POST goes through the example's server to the platform.
            page.locator(f'li[data-id="{first["id"]}"] button').click()
            expect(badge).to_have_text("1")
            expect(page.locator(f'li[data-id="{first["id"]}"]')).to_have_class("read")

            # Read anywhere else (here the API, with a token the backend signed): the page follows.
            token = httpx.get(f"{page_url}session").json()["token"]
            read = api.post(f"customer/inbox/{second['id']}/read", headers={"Authorization": f"Bearer {token}"})
            assert read.status_code == 200, read.text
            expect(badge).to_have_text("0")
            expect(page.locator(f'li[data-id="{second["id"]}"]')).to_have_class("read")
            state = api.get(f"in-app-messages/{first['id']}", headers=tenant.client_headers()).json()
            assert (state["read"], state["unread"]) == (1, 0)
    finally:
        page.close()

    # Everything the page loaded came from its own server; only the socket went to the platform.
    hosts = {urlsplit(url).netloc for url in fetched}
    assert hosts <= {f"127.0.0.1:{port}", urlsplit(daphne_server.url).netloc}, hosts
    assert any(re.search(r"/socket\.io\.js$", url) for url in fetched)
