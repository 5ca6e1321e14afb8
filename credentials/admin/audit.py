"""The audit log: readable in the admin, never editable; filtered by workspace and by credential."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from credentials.models import (
    ApiKey,
    AuditEvent,
    Client,
    ClientSecret,
    CustomerSigningKey,
    Workspace,
)

NO_WORKSPACE = "-"
CREDENTIAL_PARAMETER = "credential"


def credential_filter_value(obj) -> str:
    """What ?credential= takes for ``obj``: "<app>.<model>:<pk>", the audit event's target_type and target_id."""
    return f"{obj._meta.label_lower}:{obj.pk}"


class WorkspaceFilter(admin.SimpleListFilter):
    """By the workspace a change concerns (credentials.audit.workspace_of); "none" for the events of
    users, API keys, platform keys and sign-ins, which belong to no workspace."""

    title = "workspace"
    parameter_name = "workspace"

    def lookups(self, request, model_admin):
        return [*Workspace.objects.order_by("name").values_list("code", "name"), (NO_WORKSPACE, "none")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(workspace_code="" if value == NO_WORKSPACE else value)


def credential_events(obj) -> Q:
    """The events about one credential: those it is the target of, and those that name it although
    another object is their target (its issue by a rotation or by creating its client, its secrets'
    events for a client)."""
    about = Q(target_type=obj._meta.label_lower, target_id=str(obj.pk))
    if isinstance(obj, ApiKey):
        about |= Q(action="api_key.rotate", details__new_key=str(obj.pk))
    elif isinstance(obj, CustomerSigningKey):
        about |= Q(action="signing_key.rotate", details__new_kid=str(obj.pk))
    elif isinstance(obj, Client):
        secrets = [str(pk) for pk in obj.secrets.values_list("pk", flat=True)]
        about |= Q(target_type=ClientSecret._meta.label_lower, target_id__in=secrets)
    elif isinstance(obj, ClientSecret):
        issued = Q(action="client.create", details__secret=obj.hint) | Q(
            action="client_secret.rotate", details__new_secret=obj.hint
        )
        about |= Q(target_type=Client._meta.label_lower, target_id=str(obj.client_id)) & issued
    return about


class CredentialFilter(admin.SimpleListFilter):
    """One credential's history: reached from the "Audit log" link on its page (?credential=<kind>:<pk>),
    and shown in the side bar only while it is chosen (there are too many credentials to list)."""

    title = "credential"
    parameter_name = CREDENTIAL_PARAMETER

    def chosen(self):
        label, _, pk = (self.value() or "").partition(":")
        if not label.startswith("credentials."):
            return None
        try:
            return apps.get_model(label).objects.filter(pk=pk).first()
        except (LookupError, ValueError, ValidationError):  # an unknown kind, or a pk not of its shape
            return None

    def lookups(self, request, model_admin):
        if self.value() is None:
            return []
        obj = self.chosen()
        return [(self.value(), f"{obj._meta.verbose_name} {obj}" if obj else "no such credential")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        obj = self.chosen()
        # A deleted one (a user): only the events that name it as their target are left.
        label, _, pk = self.value().partition(":")
        return queryset.filter(credential_events(obj) if obj else Q(target_type=label, target_id=pk))


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log is append-only."""

    # Channel and address are on each event's page and in the filters.
    list_display = ("when", "actor_label", "action", "outcome", "target_label")
    list_filter = (WorkspaceFilter, CredentialFilter, "action", "outcome", "via", "target_type")
    date_hierarchy = "at"
    # target_id: a kid or an API key id, whole or its first characters; details: what a rotation names
    # (the successor's id), a secret's client key, a workspace code.
    search_fields = ("actor_label", "action", "target_label", "target_id", "details")
    fields = readonly_fields = (
        "at",
        "actor",
        "actor_label",
        "via",
        "ip",
        "action",
        "outcome",
        "workspace_code",
        "target_type",
        "target_id",
        "target_label",
        "details",
    )
    list_per_page = 100

    @admin.display(description="at", ordering="at")
    def when(self, obj) -> str:
        return timezone.localtime(obj.at).strftime("%Y-%m-%d %H:%M:%S")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
