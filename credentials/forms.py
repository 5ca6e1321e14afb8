"""Admin forms: they collect input for the services and nothing more.

Rules (name formats, uniqueness, key limits, PEM checks, grace bounds) are the services' to decide,
so their refusals are audited; these forms only check that a value of the right type was given.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from credentials.models import ProductSpace, Workspace

User = get_user_model()

PUBLIC_KEY_FILE_MAX_BYTES = 64 * 1024  # a 16384-bit RSA public key PEM is under 3 KB


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names, if the form has it."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def product_space_label(product_space: ProductSpace) -> str:
    return f"{product_space.workspace.code} / {product_space.name} ({product_space.code})"


# --- confirmations of actions -------------------------------------------------------------------
class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Why; kept in the audit log.",
    )


class RotateClientSecretForm(ReasonForm):
    # No min_value: a negative number reaches the service, which refuses it and audits the refusal.
    grace_seconds = forms.IntegerField(
        label="Grace period (seconds)",
        initial=3600,
        help_text="How long the current secrets keep working next to the new one. 0 revokes them now.",
    )

    field_order = ["grace_seconds", "reason"]


class RotateApiKeyForm(ReasonForm):
    grace_seconds = forms.IntegerField(
        label="Grace period (seconds)",
        initial=0,
        help_text="How long the current key, and the API tokens minted from it, keep working next to the new "
        "key. 0 revokes them now.",
    )

    field_order = ["grace_seconds", "reason"]


class RotateSigningKeyForm(ReasonForm):
    overlap_seconds = forms.IntegerField(
        label="Overlap (seconds)",
        initial=86400,
        help_text="How long the current key keeps verifying customer tokens next to the new one, so your "
        "backend can switch without a gap. 0 revokes it now.",
    )

    field_order = ["overlap_seconds", "reason"]


# --- creation -----------------------------------------------------------------------------------
class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(max_length=64, help_text="Unique slug, e.g. acme-prod.")
    display_name = forms.CharField(max_length=200, required=False)
    product_space_name = forms.CharField(
        max_length=200,
        required=False,
        label="First product space",
        help_text="Optional: also create a product space with this name.",
    )


class ProductSpaceCreateForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.all())
    name = forms.CharField(max_length=200)


class ClientCreateForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.all())
    name = forms.CharField(max_length=200, required=False, help_text="Default: Client.")


class ApiUserCreateForm(forms.Form):
    # No EmailField or role choices here: the service validates both, so its refusals are audited.
    email = forms.CharField(max_length=254, help_text="The API user's email; also their username.")
    workspace = forms.ModelChoiceField(
        queryset=Workspace.objects.all(), required=False, help_text="Optional: give the user a role in this workspace."
    )
    role = forms.CharField(max_length=16, required=False, help_text="admin, write or read (default: read).")


class ApiKeyCreateForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.order_by("username"))
    comment = forms.CharField(max_length=500, required=False, widget=forms.TextInput(attrs={"size": 60}))


class ApiKeyImportForm(ApiKeyCreateForm):
    # A legacy key is a secret: never rendered back into the page, not even after an error.
    key = forms.CharField(
        label="Legacy API key",
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The 32-character key issued by the old system. Stored only as a digest.",
    )

    field_order = ["user", "key", "comment"]


class SigningKeyGenerateForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.all())
    name = forms.CharField(max_length=200, required=False)
    product_space = forms.ModelChoiceField(
        queryset=ProductSpace.objects.select_related("workspace").order_by("workspace__name", "created_at", "id"),
        required=False,
        label="Product space for the CUSTOMER_* block",
        help_text="Default: the workspace's first product space.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product_space"].label_from_instance = product_space_label
        workspace = self.initial.get("workspace")
        if workspace is not None and not self.is_bound:
            self.fields["product_space"].queryset = self.fields["product_space"].queryset.filter(workspace=workspace)

    def clean(self):
        cleaned = super().clean()
        workspace, product_space = cleaned.get("workspace"), cleaned.get("product_space")
        if workspace and product_space and product_space.workspace_id != workspace.pk:
            self.add_error("product_space", f"This product space is not in {workspace}.")
        return cleaned


class SigningKeyUploadForm(forms.Form):
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.all())
    name = forms.CharField(max_length=200, required=False)
    public_key_pem = forms.CharField(
        label="Public key (PEM)",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 9, "cols": 68, "spellcheck": "false"}),
        help_text="-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----. RSA, at least 2048 bits.",
    )
    public_key_file = forms.FileField(label="…or a PEM file", required=False)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("public_key_file")
        if upload is None:
            return cleaned
        if cleaned.get("public_key_pem"):
            raise ValidationError("Paste the key or choose a file, not both.")
        if upload.size > PUBLIC_KEY_FILE_MAX_BYTES:
            self.add_error("public_key_file", "This file is too large to be a PEM public key.")
            return cleaned
        try:
            cleaned["public_key_pem"] = upload.read().decode("ascii")
        except UnicodeDecodeError:
            self.add_error("public_key_file", "This file is not a PEM text file.")
        return cleaned

    def forget_pasted_key(self) -> None:
        """After a refusal, do not render the pasted text back: it may be a private key pasted by mistake."""
        data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict: bound forms get one
        data["public_key_pem"] = ""
        self.data = data
