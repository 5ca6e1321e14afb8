"""What an operator does in the admin, as steps for the browser tests: sign in, open a page, click,
submit, read a show-once page (and check a reload shows it no more)."""

from __future__ import annotations

import secrets
import uuid

from credentials.models import User


def signed_in(context, server):
    """A browser tab signed in to ``server``'s admin, through its login page, as a new superuser."""
    password = secrets.token_urlsafe(16)
    username = f"operator-{uuid.uuid4().hex[:6]}"
    User.objects.create_superuser(username=username, email=f"{username}@example.com", password=password)
    context.clear_cookies()
    page = context.new_page()
    page.base = server.url.rstrip("/")
    page.goto(page.base + "/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(page.base + "/admin/")
    return page


def go(page, path: str):
    response = page.goto(page.base + path)
    assert response.status == 200, (path, response.status)
    return response


def click_link(page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).first.click()
    page.wait_for_load_state()


def submit(page, label: str, **fields: str) -> None:
    """Fill fields by name and click the submit button ``label``."""
    for name, value in fields.items():
        page.fill(f"[name={name}]", value)
    with page.expect_navigation():
        page.click(f'input[type=submit][value="{label}"]')


def shown_once(page, *, count: int) -> list[str]:
    """The secrets on the show-once page this submit landed on; then a reload finds them gone."""
    assert "/shown/" in page.url, page.url
    secrets_shown = page.locator("pre.shown.secret").all_inner_texts()
    assert len(secrets_shown) == count, secrets_shown
    reloaded = page.reload()
    assert reloaded.status == 410
    assert "already shown" in page.content()
    for value in secrets_shown:
        assert value.strip()[:40] not in page.content()
    return secrets_shown


def message(page) -> str:
    return " ".join(page.locator("ul.messagelist li").all_inner_texts())


def admin_path(model, view: str = "changelist", pk=None) -> str:
    base = f"/admin/credentials/{model._meta.model_name}/"
    if view == "changelist":
        return base
    return base + ("add/" if view == "add" else f"{pk}/{view}/")


def search(page, value: str) -> None:
    page.fill("#searchbar", value)
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
