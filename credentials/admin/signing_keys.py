"""Customer signing keys: generate a pair (private key shown once, never stored), upload a public
key, revoke."""

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
from credentials.forms import RotateSigningKeyForm, SigningKeyGenerateForm, SigningKeyUploadForm
from credentials.models import CustomerSigningKey, Workspace


def issued_signing_key(
    key: CustomerSigningKey, private_pem: str, *, product_space=None, replaces: CustomerSigningKey | None = None
) -> Issued:
    env_block = services.customer_env_block(key=key, private_pem=private_pem, product_space=product_space)
    heading = f"Signing key {key.kid} of {key.workspace}" + (f", replacing {replaces.kid}" if replaces else "")
    return Issued(
        heading=heading,
        url=object_url(key),
        values=[
            ShownValue("kid (CUSTOMER_SIGNING_KEY_ID)", str(key.kid)),
            ShownValue("Private key (PEM)", private_pem, secret=True),
            ShownValue("CUSTOMER_* environment block", env_block, secret=True),
        ],
    )


def overlap_note(data: dict) -> list[str]:
    first = "Replace CUSTOMER_UNIQUE_CUSTOMER_ID with the id of the customer each token is for."
    if data["overlap_seconds"] == 0:
        return [first, "The previous key was revoked: its tokens are refused and its live connections closed now."]
    return [
        first,
        f"The previous key keeps verifying customer tokens for {data['overlap_seconds']} seconds: "
        "switch your backend to the new key within that time. Then its tokens are refused and its "
        "live connections end.",
    ]


ROTATE = ServiceAction(
    name="rotate",
    description="Rotate selected signing keys…",
    title="Rotate signing keys",
    button="Rotate",
    form_class=RotateSigningKeyForm,
    intro="Each selected key gets a successor in its workspace: a new key pair, its private key and CUSTOMER_* "
    "block shown once. The old key keeps verifying customer tokens for the overlap, then stops: its "
    "tokens are refused and its live connections end. 0 revokes it now.",
    call=lambda actor, key, data: services.signing_key_rotate(
        actor=actor, key=key, overlap_seconds=data["overlap_seconds"], reason=data["reason"]
    ),
    issued=lambda old, result: issued_signing_key(*result, replaces=old),
    notes=overlap_note,
)
REVOKE = ServiceAction(
    name="revoke",
    description="Revoke selected signing keys…",
    title="Revoke signing keys",
    button="Revoke",
    intro="Customer tokens signed with the selected keys are refused from now on, and their live connections "
    "are closed.",
    call=lambda actor, key, data: services.signing_key_revoke(actor=actor, key=key, reason=data["reason"]),
    done="Revoked {n} signing key(s).",
)


@admin.register(CustomerSigningKey)
class CustomerSigningKeyAdmin(CredentialAdmin):
    list_display = ("kid", "name", "workspace_name", "status", "created", "last_used")
    list_filter = (StatusFilter, "workspace", "source")  # type: ignore[assignment]  # the base lists the status filter alone
    list_select_related = ("workspace",)
    # "^kid": the kid as the token header and GET customer/me show it, whole or its first characters.
    search_fields = ("^kid", "name", "fingerprint", "workspace__name", "workspace__code")
    fields = readonly_fields = (
        "kid",
        "name",
        "workspace",
        "source",
        "algorithm",
        "status",
        "fingerprint",
        "public_key_pem",
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

    @admin.display(description="workspace", ordering="workspace__name")
    def workspace_name(self, obj) -> str:
        return obj.workspace.name

    @admin.display(description="replaced by")
    def replaced_by(self, obj) -> str:
        return rotation_links(obj, action="signing_key.rotate", new_field="new_kid")[0] or "-"

    @admin.display(description="replaces")
    def replaces(self, obj) -> str:
        return rotation_links(obj, action="signing_key.rotate", new_field="new_kid")[1] or "-"

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="credentials_customersigningkey_upload"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "add_label": "Generate key pair",
            "extra_object_tools": self.extra_object_tools(
                request, [(CustomerSigningKey, "upload", "Upload public key", None)]
            ),
        }
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Generate a key pair: the private key and its CUSTOMER_* block are shown once, never stored."""

        def done(result, data):
            key, private_pem = result
            return self.show_once(
                request,
                title="New signing key",
                next_url=object_url(key),
                issued=[issued_signing_key(key, private_pem, product_space=data["product_space"])],
                notes=["Replace CUSTOMER_UNIQUE_CUSTOMER_ID with the id of the customer each token is for."],
            )

        return self.service_form_view(
            request,
            form_class=SigningKeyGenerateForm,
            preselect={"workspace": Workspace},
            done=done,
            call=lambda actor, data: services.signing_key_generate(
                actor=actor, workspace=data["workspace"], name=data["name"]
            ),
            title="Generate signing key pair",
            submit_label="Generate",
            intro="An RSA-2048 key pair for RS256 customer tokens. Only the public key is stored; the private key "
            "is shown once, with a ready-to-paste CUSTOMER_* block.",
            extra_links=self.extra_object_tools(
                request, [(CustomerSigningKey, "upload", "Upload a public key instead", None)]
            ),
        )

    def upload_view(self, request):
        return self.service_form_view(
            request,
            form_class=SigningKeyUploadForm,
            preselect={"workspace": Workspace},
            with_files=True,
            call=lambda actor, data: services.signing_key_register(
                actor=actor, workspace=data["workspace"], public_key_pem=data["public_key_pem"], name=data["name"]
            ),
            done=lambda key, data: self.message_and_redirect(
                request, f"Registered signing key {key.kid} for {key.workspace}.", object_url(key)
            ),
            on_refused=lambda form: form.forget_pasted_key(),
            title="Upload public key",
            submit_label="Upload",
            intro="The public half of a key pair your backend signs customer tokens with.",
        )
