"""What the platform stores. Secrets appear here only as keyed digests (see hashing.py); private keys of
customer signing keys never appear at all; platform token keys only encrypted.

Business rules (limits, rotation, revocation, audit) live in services.py, not in save() methods, so
that admin, API and management commands share them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from credentials.hashing import BASE62

CODE_PATTERN = "[A-Z0-9]{8}"  # workspace and product space codes; also the URL converter's (tokens/urls.py)
CODE_VALIDATOR = RegexValidator(rf"^{CODE_PATTERN}$", "Codes are 8 characters from A-Z and 0-9.")


class User(AbstractUser):
    """Admins (is_staff) and API users (who authenticate with API keys) alike."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~Q(email=""), name="user_email_unique_ci"),
        ]


class CredentialState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class CredentialQuerySet(models.QuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class Credential(models.Model):
    """Lifecycle fields every credential records (docs/design.md "Credentials")."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    revoked_reason = models.CharField(max_length=500, blank=True, editable=False)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        abstract = True

    def state(self, now=None) -> CredentialState:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return CredentialState.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return CredentialState.EXPIRED
        return CredentialState.ACTIVE

    def is_active(self, now=None) -> bool:
        return self.state(now) == CredentialState.ACTIVE


class Workspace(models.Model):
    code = models.CharField(max_length=8, unique=True, validators=[CODE_VALIDATOR], editable=False)
    name = models.SlugField(max_length=64, unique=True, help_text="Unique slug, e.g. acme-prod.")
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.display_name or self.name} ({self.code})"


class ProductSpace(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="product_spaces")
    code = models.CharField(max_length=8, unique=True, validators=[CODE_VALIDATOR], editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["workspace", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="product_space_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    WRITE = "write", "Write"
    READ = "read", "Read"


ROLE_RANK = {Role.READ: 1, Role.WRITE: 2, Role.ADMIN: 3}


def role_at_least(held: str | None, needed: str) -> bool:
    """Whether role ``held`` includes ``needed`` (a higher role includes the lower ones). Never raises:
    no role, or a name that is no role, includes nothing."""
    try:
        return held is not None and ROLE_RANK[Role(held)] >= ROLE_RANK[Role(needed)]
    except ValueError:
        return False


class Membership(models.Model):
    """An API user's role in a workspace: what their keys and tokens may do there."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READ)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.workspace.code}"


class Client(models.Model):
    """A customer's backend, calling with x-client-key + x-client-secret."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="clients")
    name = models.CharField(max_length=200)
    client_key = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["workspace", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_key})"


class ClientSecret(Credential):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="secrets")
    digest = models.CharField(max_length=128, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False, help_text="First characters, to tell secrets apart.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.hint}… of {self.client.name}"


class ApiKeyFormat(models.TextChoices):
    V2 = "v2", "64 characters (UUID + random)"
    LEGACY = "legacy", "32 characters (imported legacy key)"


API_KEY_LENGTH = 64  # the key's UUID as 32 hex characters, then 32 random [0-9A-Za-z]
LEGACY_API_KEY_LENGTH = 32  # [0-9A-Za-z], issued by the old system and imported
_HEX = frozenset("0123456789abcdefABCDEF")
_BASE62 = frozenset(BASE62)


def api_key_format(key: object) -> ApiKeyFormat | None:
    """The format of a presented or imported API key, or None when it has neither. Never raises: the
    one rule the authentication class, the lookup and the legacy import all apply."""
    if not isinstance(key, str):
        return None
    if len(key) == API_KEY_LENGTH and _HEX.issuperset(key[:32]) and _BASE62.issuperset(key[32:]):
        return ApiKeyFormat.V2
    if len(key) == LEGACY_API_KEY_LENGTH and _BASE62.issuperset(key):
        return ApiKeyFormat.LEGACY
    return None


class ApiKey(Credential):
    """An API user's key. 64-char keys start with the key's own UUID (hex) for a primary-key lookup;
    imported legacy 32-char keys are found by their digest."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    format = models.CharField(max_length=8, choices=ApiKeyFormat.choices, editable=False)
    digest = models.CharField(max_length=128, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False)
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="apikey_user_active")]

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user})"


class SigningKeySource(models.TextChoices):
    GENERATED = "generated", "Generated here (private key shown once)"
    UPLOADED = "uploaded", "Public key uploaded"


class CustomerSigningKey(Credential):
    """The public half of a key a customer's backend signs customer JWTs with (RS256)."""

    kid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="signing_keys")
    name = models.CharField(max_length=200, blank=True)
    algorithm = models.CharField(max_length=8, default="RS256", editable=False)
    public_key_pem = models.TextField(editable=False)
    fingerprint = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the public key (DER).")
    source = models.CharField(max_length=16, choices=SigningKeySource.choices, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "fingerprint"], name="signing_key_unique_per_workspace"),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'key'} {self.kid}"


class PlatformTokenKey(Credential):
    """A secret that signs API tokens (HS256), encrypted at rest. The newest unretired one signs;
    retired ones keep verifying the tokens they signed until those expire; revoked ones verify nothing."""

    kid = models.CharField(max_length=32, primary_key=True, editable=False)
    algorithm = models.CharField(max_length=8, default="HS256", editable=False)
    encrypted_secret = models.TextField(editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only.")

    def delete(self):
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of every issue, rotation, revocation and failed admin action."""

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    actor_label = models.CharField(max_length=200, editable=False, help_text="Who, as it was at the time.")
    via = models.CharField(max_length=16, editable=False, help_text="admin, api or cli.")
    action = models.CharField(max_length=64, db_index=True, editable=False)
    outcome = models.CharField(max_length=8, choices=AuditOutcome.choices, editable=False)
    target_type = models.CharField(max_length=64, blank=True, editable=False)
    target_id = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    target_label = models.CharField(max_length=300, blank=True, editable=False)
    # A code, not a key: the event outlives the workspace, and says which one it was.
    workspace_code = models.CharField(
        max_length=8,
        blank=True,
        db_index=True,
        editable=False,
        help_text="The workspace the change concerns; blank for users, API keys, "
        "platform keys and sign-ins, which belong to none.",
    )
    ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    details = models.JSONField(default=dict, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.target_label} ({self.outcome})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only.")
