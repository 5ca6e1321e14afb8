"""The API docs as a reader opens them: Swagger UI and Redoc render every operation of the schema in
Chromium with nothing loaded from outside this server (the browser is cut off from any other host)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import CHROMIUM, screenshot
from tests.conftest import second_pass_only

pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")

pytestmark = [
    second_pass_only,  # the embedded default's admin in Chromium: tests/docs/test_newcomer_walk.py
    pytest.mark.live,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (make test installs it)"),
]


@pytest.fixture(scope="module")
def docs_server(django_db_setup, django_db_blocker):
    # DEBUG on: the server serves the pages' static files itself, as `make run` does.
    from tests.live import LiveServer

    server = LiveServer(extra_env={"DEBUG": "1"}).start()
    yield server
    server.stop()


@pytest.fixture
def offline_page(browser_context, docs_server):
    """A tab that can reach this server only; what it tried to fetch elsewhere is in ``page.elsewhere``."""
    page = browser_context.new_page()
    page.elsewhere = []
    here = urlsplit(docs_server.url).netloc

    def only_here(route):
        if urlsplit(route.request.url).netloc == here:
            route.continue_()
        else:
            page.elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    yield page
    page.close()


def operations(server) -> int:
    schema = httpx.get(f"{server.url}/api/v1/schema/?format=json").json()
    return sum(
        1
        for methods in schema["paths"].values()
        for method in methods
        if method in ("get", "put", "post", "patch", "delete")
    )


def test_swagger_ui_shows_every_operation_offline(offline_page, docs_server):
    expected = operations(docs_server)
    offline_page.goto(f"{docs_server.url}/api/v1/docs/")
    offline_page.locator(".opblock").nth(expected - 1).wait_for(state="attached")  # (the page's policy allows no eval)
    assert offline_page.locator(".opblock").count() == expected
    assert offline_page.get_by_text("/api/v1/in-app-messages", exact=True).count() >= 1
    assert offline_page.elsewhere == []
    screenshot(offline_page, "api-docs-swagger-ui")


def test_redoc_shows_every_operation_offline(offline_page, docs_server):
    expected = operations(docs_server)
    offline_page.goto(f"{docs_server.url}/api/v1/redoc/")
    offline_page.locator('[data-section-id^="operation/"]').nth(expected - 1).wait_for(state="attached")
    assert offline_page.locator('[data-section-id^="operation/"]').count() == expected
    assert offline_page.elsewhere == []
    screenshot(offline_page, "api-docs-redoc")
