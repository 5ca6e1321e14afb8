"""API users' keys: create (shown once), import a legacy key, rotate, revoke."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from credentials import services
from credentials.admin.pages import (
    CredentialAdmin,
    Issued,
    ServiceAction,
    ShownValue,
    StatusFilter,
    object_url,
    rotation_links,
)
from credentials.forms import ApiKeyCreateForm, ApiKeyImportForm, RotateApiKeyForm
from credentials.models import ApiKey, User


def issued_api_key(api_key: ApiKey, plaintext: str) -> Issued:
    return Issued(
        heading=f"API key {api_key.hint}… of {api_key.user}",
        url=object_url(api_key),
        values=[
            ShownValue("Api-Key", plaintext, secret=True),
        ],
    )


def grace_note(data: dict) -> list[str]:
    if data["grace_seconds"] == 0:
        return ["The previous key was revoked: it and every API token minted from it stopped working now."]
    return [
        f"The previous key keeps working for {data['grace_seconds']} seconds, and so do the API tokens "
        "minted from it; then the key and all its tokens stop."
    ]


ROTATE = ServiceAction(
    name="rotate",
    description="Rotate selected API keys…",
    title="Rotate API keys",
    button="Rotate",
    form_class=RotateApiKeyForm,
    intro="Each selected key is replaced by a new key with the same comment, shown once. The old key, and "
    "every API token minted from it, keeps working for the grace period, then stops; 0 stops them now. "
    "Tokens minted from the new key are not affected.",
    call=lambda actor, api_key, data: services.api_key_rotate(
        actor=actor, api_key=api_key, grace_seconds=data["grace_seconds"], reason=data["reason"]
    ),
    issued=lambda old, result: issued_api_key(*result),
    notes=grace_note,
)
REVOKE = ServiceAction(
    name="revoke",
    description="Revoke selected API keys…",
    title="Revoke API keys",
    button="Revoke",
    intro="The selected keys and every API token minted from them stop working now.",
    call=lambda actor, api_key, data: services.api_key_revoke(actor=actor, api_key=api_key, reason=data["reason"]),
    done="Revoked {n} API key(s).",
)


@admin.register(ApiKey)
class ApiKeyAdmin(CredentialAdmin):
    list_display = ("hint", "user", "comment", "status", "created", "last_used")
    list_filter = (StatusFilter, "format")  # type: ignore[assignment]  # the base lists the status filter alone
    list_select_related = ("user",)
    # "=id": the full key id that GET user/apikeys shows, as an exact match.
    search_fields = ("=id", "hint", "comment", "user__username", "user__email")
    fields = readonly_fields = (
        "id",
        "user",
        "format",
        "hint",
        "comment",
        "status",
        "created_at",
        "created_by",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
        "replaced_by",
        "replaces",
    )
    service_actions = (ROTATE, REVOKE)

    @admin.display(description="replaced by")
    def replaced_by(self, obj) -> str:
        return rotation_links(obj, action="api_key.rotate", new_field="new_key")[0] or "-"

    @admin.display(description="replaces")
    def replaces(self, obj) -> str:
        return rotation_links(obj, action="api_key.rotate", new_field="new_key")[1] or "-"

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="credentials_apikey_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "add_label": "Create API key",
            "extra_object_tools": self.extra_object_tools(request, [(ApiKey, "import", "Import legacy key", None)]),
        }
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        return self.service_form_view(
            request,
            form_class=ApiKeyCreateForm,
            preselect={"user": User},
            call=lambda actor, data: services.api_key_create(actor=actor, user=data["user"], comment=data["comment"]),
            done=lambda result, data: self.show_once(
                request, title="New API key", issued=[issued_api_key(*result)], next_url=object_url(result[0])
            ),
            title="Create API key",
            submit_label="Create API key",
            intro="A new 64-character key, shown once.",
        )

    def import_view(self, request):
        return self.service_form_view(
            request,
            form_class=ApiKeyImportForm,
            preselect={"user": User},
            call=lambda actor, data: services.api_key_import_legacy(
                actor=actor, user=data["user"], key=data["key"], comment=data["comment"]
            ),
            done=lambda api_key, data: self.message_and_redirect(
                request, f"Imported the legacy API key {api_key}.", object_url(api_key)
            ),
            title="Import legacy API key",
            submit_label="Import",
            intro="A 32-character key issued by the old system keeps working here.",
        )
