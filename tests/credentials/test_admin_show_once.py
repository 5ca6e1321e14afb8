"""A show-once page is the GET a creating POST redirects to: a reload shows nothing and repeats
nothing, and no other session can open it (credentials/admin/pages.py)."""

from __future__ import annotations

import pytest
from django.test import Client as BrowserClient

from credentials.models import Client, User, Workspace
from tests.credentials.test_admin_support import SHOWN, admin_page, admin_user, form_fields, workspace  # noqa: F401

pytestmark = pytest.mark.django_db


def create_client_post(browser, workspace):
    page = browser.get(admin_page(Client, "add") + f"?workspace={workspace.pk}")
    data = {name: values[0] for name, values in form_fields(page, "client_form").items()}
    return browser.post(page.wsgi_request.path, {**data, "name": "Backend"})


def test_creating_redirects_to_one_read_and_a_reload_creates_nothing(admin_client, workspace):
    posted = create_client_post(admin_client, workspace)
    assert posted.status_code == 302 and "/shown/" in posted["Location"]
    assert Client.objects.count() == 1

    shown = admin_client.get(posted["Location"])
    assert shown.status_code == 200 and len(SHOWN.findall(shown.content.decode())) == 2  # key and secret
    assert "no-store" in shown["Cache-Control"]
    for _ in range(2):  # the browser's reload is this GET again
        again = admin_client.get(posted["Location"])
        assert again.status_code == 410 and not SHOWN.search(again.content.decode())
    assert Client.objects.count() == 1


def test_another_admin_session_cannot_open_the_page(admin_client, admin_user, workspace):
    posted = create_client_post(admin_client, workspace)
    other = BrowserClient()
    other.force_login(User.objects.create_superuser(username="other-admin", password="x" * 20))
    stolen = other.get(posted["Location"])
    assert stolen.status_code == 410 and not SHOWN.search(stolen.content.decode())
    # The one read is still the creator's: a foreign attempt destroys it rather than revealing it.
    assert admin_client.get(posted["Location"]).status_code == 410
    assert Workspace.objects.count() == 1 and Client.objects.count() == 1
