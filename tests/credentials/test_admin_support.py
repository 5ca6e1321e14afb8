"""Helpers for the admin tests: drive the admin's forms as a browser would, and look for leaks.

(Named test_admin_* to sit with the admin tests; it holds no tests itself.)
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.urls import reverse

from credentials import services
from credentials.audit import CLI
from credentials.models import AuditEvent, AuditOutcome


# --- filling in forms from the page, like a browser ---------------------------------------------
class _FormFields(HTMLParser):
    """The successful controls of one <form id=...>: what a browser would submit untouched."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields.append((name, attrs.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs:
                self.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            if not self._select_chosen and self._select_first is not None:
                self.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def form_fields(response, form_id: str) -> dict[str, list]:
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    assert parser.fields, f"no form #{form_id} on the page"
    data: dict[str, list] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data


def submit(client, response, form_id: str, **values):
    """POST the form #form_id of ``response`` back to the page's URL, with some fields filled in."""
    data = form_fields(response, form_id)
    for name, value in values.items():
        data[name] = value if isinstance(value, list) else [value]
    data = {name: (value[0] if len(value) == 1 else value) for name, value in data.items()}
    return follow_show_once(client, client.post(response.wsgi_request.get_full_path(), data))


def follow_show_once(client, response):
    """A POST that made a secret redirects to the one GET that shows it: follow it, and check on the
    way that a second GET (a reload) shows nothing and the POST's own response holds no secret."""
    if response.status_code != 302 or "/shown/" not in response["Location"]:
        return response
    assert not SHOWN.search(response.content.decode())
    page = client.get(response["Location"])
    again = client.get(response["Location"])
    assert again.status_code == 410 and "already shown" in again.content.decode()
    assert not SHOWN.search(again.content.decode()) and "no-store" in again["Cache-Control"]
    page.posted = response
    return page


def admin_page(model, view: str = "changelist", *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def run_action(client, model, action: str, objects, **values):
    """Choose an action on the change list, then fill in and submit its confirmation form."""
    changelist = admin_page(model)
    chosen = client.post(
        changelist, {"action": action, "index": 0, "_selected_action": [str(obj.pk) for obj in objects]}
    )
    assert chosen.status_code == 200, chosen
    assert "admin/credentials/action_confirmation.html" in [t.name for t in chosen.templates]
    for obj in objects:  # the page says what the action is about to touch
        assert html.escape(str(obj)) in chosen.content.decode()
    return submit(client, chosen, f"{model._meta.model_name}_form", **values)


def assert_forbidden(response) -> None:
    """Django refuses with 403 (PermissionDenied), not an error page of ours."""
    assert response.status_code == 403


# --- what a show-once page shows ----------------------------------------------------------------
SHOWN = re.compile(r'<pre id="shown-\d+-\d+" class="shown( secret)?">(.*?)</pre>', re.S)


def shown_secrets(response) -> list[str]:
    """The values the page marks as secret, as the browser would copy them."""
    return [html.unescape(value) for secret, value in SHOWN.findall(response.content.decode()) if secret]


def assert_show_once_page(response) -> None:
    assert response.status_code == 200  # the GET after the POST's redirect: a reload repeats no action
    assert "admin/credentials/show_once.html" in [t.name for t in response.templates]
    assert "no-store" in response["Cache-Control"]
    assert "navigator.clipboard.writeText" in response.content.decode()


def assert_nowhere_else(client, plaintext: str, *pages: str, shown_by=None) -> None:
    """The value is in no message (not even one shown on the show-once page ``shown_by`` itself), on
    no later page, in no cookie and no session."""
    assert len(plaintext) >= 32
    if shown_by is not None:
        assert all(plaintext not in str(message) for message in get_messages(shown_by.wsgi_request))
    for page in pages:
        later = client.get(page)
        assert later.status_code == 200, page
        assert plaintext not in later.content.decode(), page
        assert plaintext not in html.unescape(later.content.decode()), page
    for cookie in client.cookies.values():
        assert plaintext not in cookie.value
    for session in Session.objects.all():
        assert plaintext not in str(session.get_decoded())
        assert plaintext not in session.session_data
    assert plaintext not in str(dict(client.session.items()))


# --- the audit log ------------------------------------------------------------------------------
def audit_events(action: str, outcome: str = AuditOutcome.SUCCESS):
    return list(AuditEvent.objects.filter(action=action, outcome=outcome).order_by("at", "id"))


def assert_audited(
    action: str, *, by, target=None, outcome: str = AuditOutcome.SUCCESS, secret: str = ""
) -> AuditEvent:
    events = audit_events(action, outcome)
    assert events, f"no {outcome} audit event {action}"
    event = events[-1]
    assert event.actor == by and event.via == "admin" and event.ip == "127.0.0.1"
    if target is not None:
        assert event.target_id == str(target.pk)
    if secret:
        assert secret not in str(event.details) and secret not in event.target_label
    return event


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def admin_user(db, django_user_model):
    """pytest-django's superuser, minus the password: hashing one costs most of a second, and the
    admin_client signs in with force_login anyway."""
    return django_user_model.objects.create_superuser(username="admin", email="admin@example.com", password=None)


@pytest.fixture
def workspace(db):
    return services.workspace_create(actor=CLI, name="acme", display_name="Acme", product_space_name="web")


@pytest.fixture
def other_workspace(db):
    return services.workspace_create(actor=CLI, name="globex", product_space_name="app")


@pytest.fixture
def api_user(db, workspace):
    return services.api_user_create(actor=CLI, email="dev@example.com", workspace=workspace, role="write")
