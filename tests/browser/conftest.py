"""Chromium for the browser tests: Debian's, driven by Playwright for Python (`make chromium` installs it;
Playwright's own browser download is not used)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root in a container: no sandbox, no GPU, and none of the browser's own network traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000


def screenshot(page, name: str) -> None:
    """Save what the page shows as a test artifact (VAR_DIR/test-artifacts/screenshots/<name>.png): the
    README's pictures of the admin and the API docs are taken from here."""
    from django.conf import settings

    folder = settings.VAR_DIR / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


@pytest.fixture(scope="module")
def browser_context():
    """One Chromium for the module, on a fresh profile; each test starts with no cookies."""
    profile = tempfile.mkdtemp(prefix="admin-browser-")
    # Playwright's sync API keeps an event loop set in this thread, between calls too, so Django takes
    # every ORM call of these tests for one made inside a coroutine. None is: the loop only runs while
    # a Playwright call waits. (Only for this module: restored when it ends.)
    allow_before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright import sync_api as playwright_api  # the modules skip first when it is missing

    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
            if allow_before is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = allow_before


@pytest.fixture
def admin_page(browser_context, daphne_server, transactional_db):
    """A tab signed in to the shared server's admin as a new superuser, through the login page."""
    from tests.browser.admin_steps import signed_in

    page = signed_in(browser_context, daphne_server)
    yield page
    page.close()
