"""Clients (a customer's backend) and their secrets."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.utils import timezone

from credentials import services
from credentials.admin.pages import (
    ChangedThroughServicesAdmin,
    CredentialAdmin,
    Issued,
    ReadOnlyInline,
    ServiceAction,
    ShownValue,
    StatusFilter,
    admin_url,
    object_url,
    short_time,
)
from credentials.forms import ClientCreateForm, RotateClientSecretForm
from credentials.models import Client, ClientSecret, Workspace


def issued_client_secret(client: Client, plaintext: str) -> Issued:
    return Issued(
        heading=f"Client {client.name} in {client.workspace}",
        url=object_url(client),
        values=[
            ShownValue("x-client-key", client.client_key),
            ShownValue("x-client-secret", plaintext, secret=True),
        ],
    )


def grace_note(data: dict) -> list[str]:
    if data["grace_seconds"] == 0:
        return ["The previous secrets were revoked."]
    return [f"The previous secrets keep working for {data['grace_seconds']} seconds, then stop."]


ROTATE_SECRET = ServiceAction(
    name="rotate_secret",
    description="Rotate secret of selected clients…",
    title="Rotate client secrets",
    button="Rotate secret",
    form_class=RotateClientSecretForm,
    intro="Each selected client gets a new secret, shown once. Its current secrets keep working for the grace "
    "period, then stop; 0 stops them now.",
    call=lambda actor, client, data: services.client_secret_rotate(
        actor=actor, client=client, grace_seconds=data["grace_seconds"], reason=data["reason"]
    ),
    issued=lambda client, result: issued_client_secret(client, result[1]),
    notes=grace_note,
)
DEACTIVATE = ServiceAction(
    name="deactivate",
    description="Deactivate selected clients…",
    title="Deactivate clients",
    button="Deactivate",
    intro="The selected clients and all their secrets stop working now. This cannot be undone.",
    call=lambda actor, client, data: services.client_deactivate(actor=actor, client=client, reason=data["reason"]),
    done="Deactivated {n} client(s).",
)
REVOKE_SECRET = ServiceAction(
    name="revoke",
    description="Revoke selected secrets…",
    title="Revoke client secrets",
    button="Revoke",
    intro="The selected secrets stop working now, whatever their grace period.",
    call=lambda actor, secret, data: services.client_secret_revoke(actor=actor, secret=secret, reason=data["reason"]),
    done="Revoked {n} secret(s).",
    warning=lambda secrets: last_secrets_warning(secrets),
)


def last_secrets_warning(secrets) -> str:
    """Which clients the revocation leaves with no active secret (they stop working until rotated)."""
    now = timezone.now()
    selected = {secret.pk for secret in secrets}
    clients = {secret.client for secret in secrets if secret.is_active(now)}
    stranded = [
        client
        for client in clients
        if not ClientSecret.objects.filter(client=client).active(now).exclude(pk__in=selected).exists()
    ]
    if not stranded:
        return ""
    names = ", ".join(sorted(str(client) for client in stranded))
    return (
        f"This revokes the last active secret of {names}: the client stops working until you rotate its "
        "secret (which issues a new one). To replace a secret without a gap, rotate with a grace period instead."
    )


class ClientSecretInline(ReadOnlyInline):
    model = ClientSecret
    fields = readonly_fields = (
        "hint",
        "status",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
    )
    verbose_name_plural = "secrets (shown only once, when issued)"

    @admin.display(description="status")
    def status(self, obj) -> str:
        return obj.state().label


@admin.register(Client)
class ClientAdmin(ChangedThroughServicesAdmin):
    # Fits 1400 px with the side bar and filters: the workspace by its slug, times to the minute.
    list_display = ("name", "client_key", "workspace_name", "status", "last_used")
    list_filter = ("is_active", "workspace")
    list_select_related = ("workspace",)
    search_fields = ("name", "client_key", "workspace__name", "workspace__code")
    fields = readonly_fields = (
        "name",
        "client_key",
        "workspace",
        "is_active",
        "created_at",
        "created_by",
        "last_used_at",
    )
    inlines = (ClientSecretInline,)
    service_actions = (ROTATE_SECRET, DEACTIVATE)

    @admin.display(description="status", ordering="is_active")
    def status(self, obj) -> str:
        return "active" if obj.is_active else "deactivated"

    @admin.display(description="workspace", ordering="workspace__name")
    def workspace_name(self, obj) -> str:
        return obj.workspace.name

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj) -> str:
        return short_time(obj.last_used_at)

    def add_view(self, request, form_url="", extra_context=None):
        return self.service_form_view(
            request,
            form_class=ClientCreateForm,
            preselect={"workspace": Workspace},
            call=lambda actor, data: services.client_create(
                actor=actor, workspace=data["workspace"], name=data["name"]
            ),
            done=lambda result, data: self.show_once(
                request, title="New client", issued=[issued_client_secret(*result)], next_url=object_url(result[0])
            ),
            title="Create client",
            submit_label="Create client",
            intro="The client key and its first secret are generated; the secret is shown once.",
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tools = []
        if self.admin_site._registry[ClientSecret].has_view_permission(request):
            query = {"client__id__exact": unquote(object_id)}
            tools.append({"url": admin_url(ClientSecret, "changelist", query=query), "label": "Revoke secrets"})
        extra_context = {**(extra_context or {}), "extra_object_tools": tools}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ClientSecret)
class ClientSecretAdmin(CredentialAdmin):
    # Status says when it ends or ended; the client by name (its key is on its page).
    list_display = ("hint", "client_name", "workspace", "status", "created", "last_used")
    list_filter = (StatusFilter, "client__workspace", "client")  # type: ignore[assignment]  # the base lists the status filter alone
    list_select_related = ("client__workspace",)
    search_fields = ("hint", "client__name", "client__client_key")
    fields = readonly_fields = (
        "client",
        "hint",
        "status",
        "created_at",
        "created_by",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
    )
    service_actions = (REVOKE_SECRET,)

    def has_add_permission(self, request):
        return False  # secrets are issued by creating a client or rotating its secret

    @admin.display(description="workspace", ordering="client__workspace__name")
    def workspace(self, obj):
        return obj.client.workspace.name

    @admin.display(description="client", ordering="client__name")
    def client_name(self, obj):
        return obj.client.name
