"""The audit log as an operator reads it: everything about one workspace, everything about one credential
(from the "Audit log" link on its page), and a search by what the API and the tokens show (a kid or its
first characters, an API key id, a client key)."""

from __future__ import annotations

import html
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey, AuditEvent, Client, ClientSecret, CustomerSigningKey, Workspace
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    api_user,
    other_workspace,
    workspace,
)

pytestmark = pytest.mark.django_db


def listed_events(response) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r"/auditevent/(\d+)/change/", response.content.decode())}


def events(**lookups) -> set[int]:
    return set(AuditEvent.objects.filter(**lookups).values_list("pk", flat=True))


@pytest.fixture
def history(workspace, other_workspace, api_user):
    """Something of every kind in two workspaces, and an API user's keys (which belong to none)."""
    made = {}
    for ws in (workspace, other_workspace):
        client, _ = services.client_create(actor=CLI, workspace=ws, name="Backend")
        services.client_secret_rotate(actor=CLI, client=client, grace_seconds=0)
        services.client_secret_revoke(actor=CLI, secret=client.secrets.active().get())
        key, _ = services.signing_key_generate(actor=CLI, workspace=ws)
        successor, _ = services.signing_key_rotate(actor=CLI, key=key, overlap_seconds=60)
        services.product_space_create(actor=CLI, workspace=ws, name="mobile")
        made[ws.code] = {"client": client, "signing_key": key, "successor": successor}
    services.membership_set(actor=CLI, user=api_user, workspace=other_workspace, role="read")
    api_key, _ = services.api_key_create(actor=CLI, user=api_user)
    new_api_key, _ = services.api_key_rotate(actor=CLI, api_key=api_key, grace_seconds=60)
    made.update(
        api_key=api_key, new_api_key=new_api_key, other_key=services.api_key_create(actor=CLI, user=api_user)[0]
    )
    return made


def test_each_event_records_the_workspace_it_concerns(history, workspace, other_workspace, api_user):
    for ws in (workspace, other_workspace):
        assert set(AuditEvent.objects.filter(workspace_code=ws.code).values_list("action", flat=True)) >= {
            "workspace.create",
            "product_space.create",
            "client.create",
            "client_secret.rotate",
            "client_secret.revoke",
            "signing_key.generate",
            "signing_key.rotate",
            "membership.set",
        }
    # A membership's event names the user as its target and the workspace it is in.
    membership = AuditEvent.objects.filter(action="membership.set", target_id=str(api_user.pk))
    assert set(membership.values_list("workspace_code", flat=True)) == {workspace.code, other_workspace.code}
    # API users and keys belong to no workspace.
    assert set(AuditEvent.objects.filter(action__startswith="api_key.").values_list("workspace_code", flat=True)) == {
        ""
    }


def test_the_audit_log_filtered_by_workspace(admin_client, history, workspace, other_workspace):
    page = admin_client.get(admin_page(AuditEvent), {"workspace": workspace.code})
    assert listed_events(page) == events(workspace_code=workspace.code)
    assert events(workspace_code=workspace.code).isdisjoint(events(workspace_code=other_workspace.code))
    assert listed_events(admin_client.get(admin_page(AuditEvent), {"workspace": "-"})) == events(workspace_code="")
    # The side bar offers each workspace by its name.
    assert f'?workspace={other_workspace.code}"' in admin_client.get(admin_page(AuditEvent)).content.decode()


def test_the_audit_log_of_one_api_key_has_its_issue_and_its_rotation(admin_client, history):
    old, new, other = history["api_key"], history["new_api_key"], history["other_key"]
    rotation = events(action="api_key.rotate", target_id=str(old.pk))
    assert len(rotation) == 1
    page = admin_client.get(admin_page(AuditEvent), {"credential": f"credentials.apikey:{old.pk}"})
    assert listed_events(page) == events(target_id=str(old.pk)) and rotation <= listed_events(page)
    # The new key's history starts with the rotation that made it.
    page = admin_client.get(admin_page(AuditEvent), {"credential": f"credentials.apikey:{new.pk}"})
    assert listed_events(page) == events(target_id=str(new.pk)) | rotation
    assert events(target_id=str(other.pk)).isdisjoint(listed_events(page))
    assert html.escape(str(new)) in page.content.decode()  # the side bar names the chosen credential


def test_the_audit_log_of_one_client_has_its_secrets_events(admin_client, history, workspace, other_workspace):
    client = history[workspace.code]["client"]
    secrets = [str(pk) for pk in client.secrets.values_list("pk", flat=True)]
    page = admin_client.get(admin_page(AuditEvent), {"credential": f"credentials.client:{client.pk}"})
    shown = listed_events(page)
    assert shown == events(target_type="credentials.client", target_id=str(client.pk)) | events(
        target_type="credentials.clientsecret", target_id__in=secrets
    )
    assert {"client.create", "client_secret.rotate", "client_secret.revoke"} == set(
        AuditEvent.objects.filter(pk__in=shown).values_list("action", flat=True)
    )
    assert shown.isdisjoint(events(workspace_code=other_workspace.code))

    # A secret's own history: the event that issued it, and its revocation.
    revoked = client.secrets.get(revoked_reason="")
    page = admin_client.get(admin_page(AuditEvent), {"credential": f"credentials.clientsecret:{revoked.pk}"})
    assert set(AuditEvent.objects.filter(pk__in=listed_events(page)).values_list("action", flat=True)) == {
        "client_secret.rotate",
        "client_secret.revoke",
    }


def test_a_credential_filter_for_nothing_lists_nothing(admin_client, history):
    for value in (
        "credentials.apikey:not-a-uuid",
        "credentials.nosuchmodel:1",
        "auth.group:1",
        "credentials.client:999999",
    ):
        page = admin_client.get(admin_page(AuditEvent), {"credential": value})
        assert listed_events(page) == set(), value


@pytest.mark.parametrize("model", [Client, ClientSecret, ApiKey, CustomerSigningKey])
def test_each_credential_page_links_to_its_audit_log(admin_client, history, workspace, model):
    obj = {
        Client: history[workspace.code]["client"],
        ClientSecret: history[workspace.code]["client"].secrets.first(),
        ApiKey: history["api_key"],
        CustomerSigningKey: history[workspace.code]["signing_key"],
    }[model]
    page = admin_client.get(admin_page(model, "change", obj.pk)).content.decode()
    [link] = re.findall(r'<a href="([^"]*/auditevent/\?credential=[^"]*)"[^>]*>Audit log</a>', page)
    log = admin_client.get(link.replace("&amp;", "&"))
    assert events(target_type=obj._meta.label_lower, target_id=str(obj.pk)) <= listed_events(log)
    assert listed_events(log) < events()  # not the whole log


def test_a_workspace_page_links_to_everything_in_it(admin_client, history, workspace):
    page = admin_client.get(admin_page(Workspace, "change", workspace.pk)).content.decode()
    assert f'/auditevent/?workspace={workspace.code}"' in page


def test_the_audit_log_found_by_kid_prefix_api_key_id_and_client_key(admin_client, history, workspace):
    key, successor = history[workspace.code]["signing_key"], history[workspace.code]["successor"]
    found = listed_events(admin_client.get(admin_page(AuditEvent), {"q": str(successor.kid)[:13]}))
    # Its generation, and the rotation that names it as the successor.
    assert found == events(target_id=str(successor.kid)) | events(action="signing_key.rotate", target_id=str(key.kid))

    found = listed_events(admin_client.get(admin_page(AuditEvent), {"q": str(history["new_api_key"].pk)}))
    assert found == events(target_id=str(history["new_api_key"].pk)) | events(action="api_key.rotate")

    client = history[workspace.code]["client"]
    found = listed_events(admin_client.get(admin_page(AuditEvent), {"q": client.client_key}))
    assert events(action="client_secret.revoke", workspace_code=workspace.code) <= found  # named in its details
    assert events(target_type="credentials.client", target_id=str(client.pk)) <= found
    assert found.isdisjoint(events(target_id=str(history["api_key"].pk)))


@pytest.mark.django_db(transaction=True)
def test_events_written_before_the_workspace_column_get_theirs_when_migrating(history, workspace, api_user):
    before = dict(AuditEvent.objects.values_list("pk", "workspace_code"))
    assert {code for code in before.values()} > {""}
    executor = MigrationExecutor(connection)
    executor.migrate([("credentials", "0001_initial")])
    call_command("migrate", verbosity=0)
    assert dict(AuditEvent.objects.values_list("pk", "workspace_code")) == before
