"""What the notification side stores: sent in-app messages, each recipient's inbox item, customer
preferences with workspace-level defaults, communication settings, and idempotency records.

A customer is a JWT ``sub`` within one product space (and so one workspace): every customer-owned row
carries ``product_space`` + ``customer_id``, and every customer query filters on both first, which is
also how the indexes below are laid out.

Rules (who may send, suppression, idempotency) live in services.py; the validators here describe what
a single stored value may look like, and serializers and the admin both use them.
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from authplatform.conf import platform_settings
from credentials.models import ProductSpace, Workspace
from tokens.principals import CUSTOMER_ID_MAX_LENGTH

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 10_000
CATEGORY_MAX_LENGTH = 64
ACTION_URL_MAX_LENGTH = 2048
IDEMPOTENCY_KEY_MAX_LENGTH = 255
LOCALE_MAX_LENGTH = 35
PHONE_NUMBER_MAX_LENGTH = 16  # E.164: "+" and at most 15 digits
PUSH_DEVICE_TOKEN_MAX_LENGTH = 512
PUSH_DEVICE_TOKENS_MAX = 10

# The wildcard category: a preference for "*" applies to every category without its own entry.
ANY_CATEGORY = "*"

CATEGORY_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{0,63}\Z",
    "A category is 1 to 64 characters from a-z, 0-9, '_', '.' and '-', starting with a letter or digit.",
)
# BCP 47 language tags as browsers and apps send them: "en", "de-CH", "zh-Hant-TW", "es-419".
LOCALE_VALIDATOR = RegexValidator(
    r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*\Z",
    "Use a BCP 47 language tag such as 'en', 'de-CH' or 'zh-Hant-TW'.",
)
# Links are rendered by customers' apps: only web links, never javascript: or data: URLs.
ACTION_URL_VALIDATOR = URLValidator(schemes=["http", "https"], message="Use an http:// or https:// URL.")
PHONE_NUMBER_VALIDATOR = RegexValidator(
    r"^\+[1-9][0-9]{6,14}\Z", "Use an E.164 phone number: '+', the country code and the number, digits only."
)


def validate_preference_count(count: int) -> None:
    """A customer holds preferences for at most REALTIME_MAX_PREFERENCE_CATEGORIES categories (a bound
    on what one customer can store). Checked on the request before anything is validated or written,
    and again on what a PATCH leaves stored."""
    limit = platform_settings.REALTIME_MAX_PREFERENCE_CATEGORIES
    if count > limit:
        raise ValidationError(f"At most {limit} categories can have preferences.", code="too_many")


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"


CHANNELS: tuple[str, ...] = tuple(Channel.values)  # the channel names, in the order the API lists them


@lru_cache(maxsize=1)
def _time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_time_zone(value: str) -> None:
    """An IANA time-zone name known to this system's tz database (e.g. 'Europe/Zurich')."""
    if value not in _time_zone_names():
        raise ValidationError(
            "%(value)s is not an IANA time-zone name such as 'Europe/Zurich' or 'UTC'.",
            params={"value": value},
            code="invalid_time_zone",
        )


def validate_preference_category(value: str) -> None:
    """A message category, or '*' for all categories."""
    if value != ANY_CATEGORY:
        CATEGORY_VALIDATOR(value)


def validate_push_device_tokens(value) -> None:
    if not isinstance(value, list) or any(not isinstance(t, str) for t in value):
        raise ValidationError("Push device tokens are a list of strings.")
    if len(value) > PUSH_DEVICE_TOKENS_MAX:
        raise ValidationError(f"At most {PUSH_DEVICE_TOKENS_MAX} push device tokens.")
    if any(not t or len(t) > PUSH_DEVICE_TOKEN_MAX_LENGTH or re.search(r"\s|\x00", t) for t in value):
        raise ValidationError(f"A push device token is 1 to {PUSH_DEVICE_TOKEN_MAX_LENGTH} characters without spaces.")


class InAppMessage(models.Model):
    """One send: the content, who sent it, and the counts decided at send time."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="in_app_messages", db_index=False
    )  # rt_message_workspace_recent leads with it
    product_space = models.ForeignKey(ProductSpace, on_delete=models.CASCADE, related_name="in_app_messages")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    category = models.CharField(max_length=CATEGORY_MAX_LENGTH, validators=[CATEGORY_VALIDATOR])
    action_url = models.CharField(max_length=ACTION_URL_MAX_LENGTH, blank=True, validators=[ACTION_URL_VALIDATOR])
    data = models.JSONField(default=dict, blank=True)
    sent_by = models.CharField(max_length=200, help_text="The credential that sent it, e.g. client ck_….")
    recipient_count = models.PositiveIntegerField(help_text="Distinct customer ids in the request.")
    stored_count = models.PositiveIntegerField(help_text="Inbox items stored.")
    suppressed_count = models.PositiveIntegerField(help_text="Recipients who opted out of this category in-app.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # The message's place in its product space's live order (MessageSequence): 1, 2, 3, ... in commit
    # order, given to sends that stored inbox items. Socket.IO offsets are these numbers (live/recovery.py).
    sequence = models.BigIntegerField(null=True, blank=True, editable=False)
    # The sender's expiry: the message leaves every inbox then (its items carry a copy, for their queries).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="rt_message_workspace_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["product_space", "sequence"],
                name="rt_message_sequence",
                condition=Q(sequence__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.category}, {self.id})"


class MessageSequence(models.Model):
    """The last sequence number given to a message of a product space.

    A send takes the next number (services.message_sequence_next) in its transaction, right before it
    writes its rows, and the row stays locked until the send commits: sends of one product space commit
    in number order, and a send that rolls back gives its number back. So the numbers are dense and in
    commit order, which ids are not (PostgreSQL hands ids out before commit): a reconnecting socket
    that has seen number n has seen every earlier one of its customer, and missed exactly those above.
    """

    product_space = models.OneToOneField(ProductSpace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_value = models.BigIntegerField(default=0)


# Items one bulk action may name by id (more: use its filter).
INBOX_BULK_MAX_IDS = 100
# How far ahead an item may be snoozed.
INBOX_SNOOZE_MAX_DAYS = 90


class InboxItem(models.Model):
    """One recipient's copy of a message, with its seen, read, archived and deleted state.

    *Seen* means the customer opened the bell (the badge), *read* that they opened the message.
    *Deleted* is the customer's delete: the row stays for the sender's statistics (GET
    in-app-messages/{id}) and is gone from every list and count of the customer. An item past its
    ``expires_at`` is gone the same way (the inbox clock marks it deleted, notifications/clock.py).
    A *snoozed* item is hidden until ``snoozed_until``; then it wakes (``woken_at``) unread and unseen.

    The bigint ``id`` grows with every insert: the inbox lists newest first by it, and its cursor is a
    position in that order, so messages arriving while a customer pages never shift later pages.
    ``category`` is copied from the message so the category filter is answered by an index.
    """

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(
        InAppMessage, on_delete=models.CASCADE, related_name="inbox_items", db_index=False
    )  # rt_inbox_message_customer leads with it
    product_space = models.ForeignKey(ProductSpace, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer_id = models.CharField(max_length=CUSTOMER_ID_MAX_LENGTH)
    category = models.CharField(max_length=CATEGORY_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    seen_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    woken_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One copy per customer; also the index behind "this message's delivery counts".
            models.UniqueConstraint(fields=["message", "customer_id"], name="rt_inbox_message_customer"),
        ]
        indexes = [
            # Everything of a customer, newest first (archived listing, read-all).
            models.Index(fields=["product_space", "customer_id", "-id"], name="rt_inbox_customer"),
            # The default inbox, and the total count: not archived, not deleted. These three carry
            # expires_at last so that a count reads the index alone (its expiry filter included).
            models.Index(
                fields=["product_space", "customer_id", "-id", "expires_at"],
                name="rt_inbox_listed",
                condition=Q(archived_at__isnull=True, deleted_at__isnull=True, snoozed_until__isnull=True),
            ),
            # Unread list and the unread count (an index-only count of a small partial index).
            models.Index(
                fields=["product_space", "customer_id", "-id", "expires_at"],
                name="rt_inbox_unread_listed",
                condition=Q(
                    read_at__isnull=True, archived_at__isnull=True, deleted_at__isnull=True, snoozed_until__isnull=True
                ),
            ),
            # The badge: the unseen count.
            models.Index(
                fields=["product_space", "customer_id", "-id", "expires_at"],
                name="rt_inbox_unseen_listed",
                condition=Q(
                    seen_at__isnull=True, archived_at__isnull=True, deleted_at__isnull=True, snoozed_until__isnull=True
                ),
            ),
            # The category filter.
            models.Index(fields=["product_space", "customer_id", "category", "-id"], name="rt_inbox_category"),
            # The inbox clock's work: snoozes that are due, items that expire (small partial indexes).
            models.Index(fields=["snoozed_until"], name="rt_inbox_snoozed", condition=Q(snoozed_until__isnull=False)),
            models.Index(
                fields=["expires_at"],
                name="rt_inbox_expiring",
                condition=Q(expires_at__isnull=False, deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.message_id}"


class WorkspaceOrProductSpaceRule(models.Model):
    """A rule set for a whole workspace (no product space) or for one of its product spaces; subclasses
    declare both foreign keys (with their own related names and help)."""

    class Meta:
        abstract = True

    def clean(self) -> None:
        rule: Any = self  # the fields are the subclass's
        space = rule.product_space if rule.product_space_id else None
        if space is not None and rule.workspace_id and space.workspace_id != rule.workspace_id:
            raise ValidationError({"product_space": "Choose a product space of this workspace."})

    @property
    def scope_code(self) -> str:
        rule: Any = self
        return rule.product_space.code if rule.product_space is not None else rule.workspace.code

    @classmethod
    def for_product_space(cls, product_space: ProductSpace) -> Any:
        """The rows that apply to ``product_space``: its own and its workspace's."""
        scope = Q(product_space__isnull=True) | Q(product_space=product_space)
        return cls._default_manager.filter(scope, workspace_id=product_space.workspace_id)  # type: ignore[misc]  # the subclass has it


class PreferenceDefault(WorkspaceOrProductSpaceRule):
    """A default: whether customers get ``category`` on ``channel`` unless they chose.

    Set for a whole workspace (no product space) or for one product space, which then comes first for
    its customers. Category '*' is the default for every category without a row of its own. Without
    any row, everything is on (customers opt out).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="preference_defaults")
    product_space = models.ForeignKey(
        ProductSpace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Leave empty for the whole workspace; a product space's default comes before the workspace's.",
    )
    category = models.CharField(max_length=CATEGORY_MAX_LENGTH, validators=[validate_preference_category])
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField()

    class Meta:
        ordering = ["workspace", "product_space", "category", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "category", "channel"],
                name="rt_pref_default_unique",
                condition=Q(product_space__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["product_space", "category", "channel"],
                name="rt_pref_default_space_unique",
                condition=Q(product_space__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope_code} {self.category}/{self.channel}: {'on' if self.enabled else 'off'}"


class CriticalCategory(WorkspaceOrProductSpaceRule):
    """A category customers cannot mute (security alerts, legal notices): their own choices for it are
    refused and ignored. Set for a whole workspace or for one product space."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="critical_categories")
    product_space = models.ForeignKey(
        ProductSpace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Leave empty to make it critical in every product space of the workspace.",
    )
    category = models.CharField(
        max_length=CATEGORY_MAX_LENGTH,
        validators=[CATEGORY_VALIDATOR],
        help_text="A message category, e.g. 'security'. Customers keep getting it on every channel their "
        "defaults allow, whatever they choose.",
    )

    class Meta:
        verbose_name_plural = "critical categories"
        ordering = ["workspace", "product_space", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "category"], name="rt_critical_unique", condition=Q(product_space__isnull=True)
            ),
            models.UniqueConstraint(
                fields=["product_space", "category"],
                name="rt_critical_space_unique",
                condition=Q(product_space__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope_code}: {self.category}"


class CustomerPreference(models.Model):
    """A customer's own opt in/out for a category ('*': all categories) on a channel."""

    product_space = models.ForeignKey(ProductSpace, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer_id = models.CharField(max_length=CUSTOMER_ID_MAX_LENGTH)
    category = models.CharField(max_length=CATEGORY_MAX_LENGTH, validators=[validate_preference_category])
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_space", "customer_id", "category", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["product_space", "customer_id", "category", "channel"], name="rt_pref_customer_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.category}/{self.channel}: {'on' if self.enabled else 'off'}"


class CommunicationSettings(models.Model):
    """How and when to reach a customer: locale, time zone, quiet hours, and per-channel contact
    details with an on/off switch. A customer without a row has the field defaults."""

    product_space = models.ForeignKey(ProductSpace, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer_id = models.CharField(max_length=CUSTOMER_ID_MAX_LENGTH)
    locale = models.CharField(max_length=LOCALE_MAX_LENGTH, blank=True, validators=[LOCALE_VALIDATOR])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    quiet_hours_enabled = models.BooleanField(default=False)
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Local time in time_zone.")
    quiet_hours_end = models.TimeField(
        null=True, blank=True, help_text="Local time in time_zone; may be past midnight."
    )
    in_app_enabled = models.BooleanField(default=True)
    email_enabled = models.BooleanField(default=True)
    email_address = models.EmailField(max_length=254, blank=True)
    sms_enabled = models.BooleanField(default=True)
    sms_phone_number = models.CharField(
        max_length=PHONE_NUMBER_MAX_LENGTH, blank=True, validators=[PHONE_NUMBER_VALIDATOR]
    )
    push_enabled = models.BooleanField(default=True)
    push_device_tokens = models.JSONField(default=list, blank=True, validators=[validate_push_device_tokens])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "communication settings"
        constraints = [
            models.UniqueConstraint(fields=["product_space", "customer_id"], name="rt_comm_settings_unique"),
        ]

    # What a customer sets (the API's PUT/PATCH): every field but the keys and the timestamp.
    SETTINGS_FIELDS: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.customer_id} ({self.product_space.code})"

    def clean(self) -> None:
        if self.quiet_hours_enabled:
            errors = {}
            if self.quiet_hours_start is None:
                errors["quiet_hours_start"] = "Quiet hours need a start time."
            if self.quiet_hours_end is None:
                errors["quiet_hours_end"] = "Quiet hours need an end time."
            if not errors and self.quiet_hours_start == self.quiet_hours_end:
                errors["quiet_hours_end"] = "Quiet hours must end at another time than they start."
            if errors:
                raise ValidationError(errors)


CommunicationSettings.SETTINGS_FIELDS = tuple(
    field.name
    for field in CommunicationSettings._meta.concrete_fields
    if field.name not in ("id", "product_space", "customer_id", "updated_at")
)


class IdempotencyRecord(models.Model):
    """The message a send with an ``Idempotency-Key`` stored; the same key and body get it again
    (the view renders the same 202 body from it) instead of a second message."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    request_digest = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON body.")
    message = models.ForeignKey(InAppMessage, null=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="rt_idempotency_unique")]

    def __str__(self) -> str:
        return f"{self.workspace_id}:{self.key}"
