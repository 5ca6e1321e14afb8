"""Platform token keys: the secrets that sign API tokens. Adding one is rotating."""

from __future__ import annotations

from django.contrib import admin

from credentials import selectors, services
from credentials.admin.pages import CredentialAdmin, ServiceAction, admin_url
from credentials.forms import ReasonForm
from credentials.models import PlatformTokenKey

REVOKE = ServiceAction(
    name="revoke",
    description="Revoke selected platform token keys…",
    title="Revoke platform token keys",
    button="Revoke",
    intro="Every API token signed with the selected keys is refused from now on.",
    call=lambda actor, key, data: services.platform_token_key_revoke(actor=actor, key=key, reason=data["reason"]),
    done="Revoked {n} platform key(s).",
)


@admin.register(PlatformTokenKey)
class PlatformTokenKeyAdmin(CredentialAdmin):
    # The encrypted secret is never shown, not even encrypted.
    list_display = ("kid", "status", "signs_new_tokens", "created_at", "last_used_at", "retired_at", "revoked_at")
    fields = readonly_fields = (
        "kid",
        "algorithm",
        "status",
        "signs_new_tokens",
        "created_at",
        "created_by",
        "last_used_at",
        "retired_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
    )
    service_actions = (REVOKE,)

    @admin.display(description="signs new tokens", boolean=True)
    def signs_new_tokens(self, obj) -> bool:
        current = selectors.platform_token_key_current()
        return current is not None and current.pk == obj.pk

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "add_label": "Rotate platform token key"}
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a platform key is rotating: the new key signs, the previous one is retired."""
        return self.service_form_view(
            request,
            form_class=ReasonForm,
            call=lambda actor, data: services.platform_token_key_rotate(actor=actor, reason=data["reason"]),
            done=lambda key, data: self.message_and_redirect(
                request,
                f"Platform token key {key.kid} signs new API tokens from now on.",
                admin_url(PlatformTokenKey, "changelist"),
            ),
            title="Rotate platform token key",
            submit_label="Rotate",
            intro="A new key signs API tokens from now on. The current key is retired: it keeps verifying the "
            "tokens it signed until they expire. Revoke it to refuse those tokens at once.",
        )
