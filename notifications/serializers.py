"""Input validation and representations of the notification API.

Input: every serializer here is strict. Unknown fields and read-only fields are refused, not dropped;
strings must be JSON strings (no number-to-string coercion, since a customer id 42 is not "42" to a
customer's backend); booleans must be JSON booleans. Field formats reuse the validators of
notifications/models.py, so the API and the admin accept exactly the same values. Errors become the API's
400 error body with ``details`` keyed like the input (lists by index, nested objects by key).

Output: ``inbox_item_data`` is the one shape of a message as a customer sees it, used by the inbox
endpoints and by the ``inAppMessage`` live event alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import time
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, ProhibitNullCharactersValidator
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from authplatform.conf import platform_settings
from credentials.models import CODE_VALIDATOR
from notifications import models
from notifications.models import CHANNELS, CommunicationSettings, InAppMessage, InboxItem
from notifications.pagination import decode_cursor

UNKNOWN_FIELD = "Unknown field."
READ_ONLY_FIELD = "This field is read-only."


def timestamp_data(value) -> str | None:
    """A stored time as the API shows it (ISO 8601, UTC), or None."""
    return serializers.DateTimeField().to_representation(value) if value is not None else None


# --- strict building blocks ---------------------------------------------------------------------
class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare (and declared read-only ones) instead of ignoring them."""

    def to_internal_value(self, data):
        if not isinstance(data, Mapping) and self.parent is not None:
            # Nested: the error belongs to the field itself, not to a "non_field_errors" inside it.
            raise serializers.ValidationError("Must be a JSON object.")
        extra: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            for name in data:
                field = self.fields.get(name)
                if field is None:
                    extra[str(name)] = [UNKNOWN_FIELD]
                elif field.read_only:
                    extra[str(name)] = [READ_ONLY_FIELD]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if extra and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **extra}) from None
            raise
        if extra:
            raise serializers.ValidationError(extra)
        return value


class StrictCharField(serializers.CharField):
    """A CharField that takes JSON strings only (DRF would turn 42 or 4.2 into text)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false only (DRF would also take "yes", 1, "on", …)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field({"type": "string", "enum": ["true", "false", "1", "0"]})
class QueryBooleanField(serializers.Field):
    """A boolean query parameter: ``true`` or ``false``."""

    default_error_messages = {"invalid": "Use true or false."}

    def to_internal_value(self, data):
        if data == "true":
            return True
        if data == "false":
            return False
        self.fail("invalid")

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "example": "22:00"})
class HourMinuteField(serializers.Field):
    """A local time of day as "HH:MM" (24 h)."""

    default_error_messages = {"invalid": 'Use a 24-hour time as HH:MM, e.g. "22:00".'}

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) != 5 or data[2] != ":":
            self.fail("invalid")
        hours, minutes = data[:2], data[3:]
        if not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit()):
            self.fail("invalid")
        if int(hours) > 23 or int(minutes) > 59:
            self.fail("invalid")
        return time(int(hours), int(minutes))

    def to_representation(self, value: time | None):
        return value.strftime("%H:%M") if value is not None else None


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _json_depth_and_nul(value: Any, max_depth: int) -> str | None:
    """Why ``value`` cannot be stored (too deep, or a NUL character PostgreSQL refuses), or None."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)) and depth > max_depth:
            return f"Nest objects and lists at most {max_depth} levels deep."
        if isinstance(node, dict):
            for key, child in node.items():
                if "\x00" in key:
                    return "Keys and strings cannot contain NUL (\\u0000) characters."
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str) and "\x00" in node:
            return "Keys and strings cannot contain NUL (\\u0000) characters."
    return None


@extend_schema_field({"type": "object", "additionalProperties": True})
class MessageDataField(serializers.Field):
    """Free-form ``data``: a JSON object, size- and depth-capped."""

    default_error_messages = {"not_object": "Must be a JSON object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        problem = _json_depth_and_nul(data, platform_settings.REALTIME_DATA_MAX_DEPTH)
        if problem:
            raise serializers.ValidationError(problem)
        limit = platform_settings.REALTIME_DATA_MAX_BYTES
        size = _json_size(data)
        if size > limit:
            raise serializers.ValidationError(
                f"Is {size} bytes as compact UTF-8 JSON; at most {limit} bytes are allowed."
            )
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.STR)
class CustomerIdField(serializers.Field):
    """A customer id as it appears in the customer's JWT ``sub``: a string of 1 to CUSTOMER_ID_MAX_LENGTH characters."""

    default_error_messages = {
        "invalid": "A customer id is a string (the customer JWT's 'sub').",
        "length": f"A customer id is 1 to {models.CUSTOMER_ID_MAX_LENGTH} characters.",
        "nul": "A customer id cannot contain NUL (\\u0000) characters.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if not data or len(data) > models.CUSTOMER_ID_MAX_LENGTH:
            self.fail("length")
        if "\x00" in data:
            self.fail("nul")
        return data

    def to_representation(self, value):
        return value


class RecipientsField(serializers.ListField):
    """1 to REALTIME_MAX_RECIPIENTS customer ids; the limit is checked before any id is looked at."""

    def __init__(self, **kwargs):
        super().__init__(child=CustomerIdField(), allow_empty=False, **kwargs)

    def to_internal_value(self, data):
        limit = platform_settings.REALTIME_MAX_RECIPIENTS
        if isinstance(data, list) and len(data) > limit:
            raise serializers.ValidationError(
                f"At most {limit} recipients per message; this request has {len(data)}. Split it up."
            )
        return super().to_internal_value(data)


# --- server-to-server: sending ------------------------------------------------------------------
class InAppMessageSendSerializer(StrictSerializer):
    product_space_code = StrictCharField(validators=[CODE_VALIDATOR])
    recipients = RecipientsField()
    title = StrictCharField(max_length=models.TITLE_MAX_LENGTH)
    body = StrictCharField(max_length=models.BODY_MAX_LENGTH, trim_whitespace=False)
    category = StrictCharField(
        max_length=models.CATEGORY_MAX_LENGTH, trim_whitespace=False, validators=[models.CATEGORY_VALIDATOR]
    )
    action_url = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        max_length=models.ACTION_URL_MAX_LENGTH,
        validators=[models.ACTION_URL_VALIDATOR],
    )
    data = MessageDataField(required=False, allow_null=True)  # type: ignore[assignment]  # the field named data
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="The message leaves every inbox at this time (RFC 3339)."
    )

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Give a time in the future.")
        return value

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate(self, attrs):
        attrs["action_url"] = attrs.get("action_url") or ""
        attrs["data"] = attrs.get("data") or {}
        return attrs


IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def idempotency_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The request's Idempotency-Key: 1 to 255 visible ASCII characters, or None when absent."""
    value = headers.get(IDEMPOTENCY_KEY_HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= models.IDEMPOTENCY_KEY_MAX_LENGTH or any(not "!" <= c <= "~" for c in value):
        raise serializers.ValidationError(
            {
                IDEMPOTENCY_KEY_HEADER: [
                    f"Use 1 to {models.IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters, e.g. a UUID."
                ]
            }
        )
    return value


def message_content_data(message: InAppMessage) -> dict[str, Any]:
    """What a message says: the same fields for its sender (status) and its recipients (inbox, event)."""
    return {
        "id": str(message.id),
        "title": message.title,
        "body": message.body,
        "category": message.category,
        "action_url": message.action_url or None,
        "data": message.data,
        "created_at": timestamp_data(message.created_at),
        "expires_at": timestamp_data(message.expires_at),
    }


def in_app_message_accepted_data(message: InAppMessage) -> dict[str, Any]:
    """The 202 body of a send, and of its replay with the same Idempotency-Key."""
    return {
        "id": str(message.id),
        "product_space_code": message.product_space.code,
        "recipients": message.recipient_count,
        "stored": message.stored_count,
        "suppressed": message.suppressed_count,
        "created_at": timestamp_data(message.created_at),
    }


def in_app_message_status_data(message: InAppMessage, counts: Mapping[str, int]) -> dict[str, Any]:
    return {
        **message_content_data(message),
        "product_space_code": message.product_space.code,
        "recipients": message.recipient_count,
        "stored": message.stored_count,
        "suppressed": message.suppressed_count,
        "delivered": counts["delivered"],
        "read": counts["read"],
        "unread": counts["delivered"] - counts["read"],
        "archived": counts["archived"],
    }


# --- customer: inbox ----------------------------------------------------------------------------
def inbox_item_data(item: InboxItem) -> dict[str, Any]:
    """A message as its recipient sees it (inbox endpoints and the ``inAppMessage`` event)."""
    return {
        **message_content_data(item.message),
        "seen": item.seen_at is not None,
        "seen_at": timestamp_data(item.seen_at),
        "read": item.read_at is not None,
        "read_at": timestamp_data(item.read_at),
        "archived": item.archived_at is not None,
        "archived_at": timestamp_data(item.archived_at),
        "snoozed_until": timestamp_data(item.snoozed_until),
        "woken_at": timestamp_data(item.woken_at),
    }


@extend_schema_field(OpenApiTypes.STR)
class CursorField(serializers.Field):
    default_error_messages = {"invalid": "This cursor is not valid; use a next_cursor value from this endpoint."}

    def to_internal_value(self, data):
        try:
            return decode_cursor(data)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return value


INBOX_FILTER_MAX_CATEGORIES = 20


@extend_schema_field(OpenApiTypes.STR)
class CategoriesField(serializers.Field):
    """One category or several, comma-separated (``category=billing,security``)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Give categories as text: one, or several separated by commas.")
        categories = list(dict.fromkeys(data.split(",")))
        if len(categories) > INBOX_FILTER_MAX_CATEGORIES:
            raise serializers.ValidationError(f"At most {INBOX_FILTER_MAX_CATEGORIES} categories.")
        for category in categories:
            try:
                models.CATEGORY_VALIDATOR(category)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(f"{category[:64]!r}: {exc.messages[0]}") from None
        return categories

    def to_representation(self, value):
        return ",".join(value)


class InboxQuerySerializer(StrictSerializer):
    """Query string of ``GET customer/inbox``."""

    cursor = CursorField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    unread = QueryBooleanField(required=False)
    seen = QueryBooleanField(required=False)
    archived = QueryBooleanField(required=False)
    snoozed = QueryBooleanField(required=False, help_text="true: only snoozed items (hidden otherwise).")
    category = CategoriesField(required=False)
    after = serializers.DateTimeField(required=False, help_text="Only items created after this time (RFC 3339).")
    before = serializers.DateTimeField(required=False, help_text="Only items created before this time (RFC 3339).")

    def to_internal_value(self, data):
        # A plain dict, so that an empty value ("?unread=") is refused like any other bad value rather
        # than read as "not given" (DRF's form-input rule), and a repeated parameter is refused.
        if hasattr(data, "getlist"):
            repeated = {name: ["Give this parameter once."] for name in data if len(data.getlist(name)) > 1}
            if repeated:
                raise serializers.ValidationError(repeated)
            data = {name: data.get(name) for name in data}
        return super().to_internal_value(data)

    def validate_limit(self, value: int) -> int:
        maximum = platform_settings.REALTIME_INBOX_MAX_PAGE_SIZE
        if value > maximum:
            raise serializers.ValidationError(f"Ensure this value is less than or equal to {maximum}.")
        return value


class EmptyBodySerializer(StrictSerializer):
    """For actions that take no input: an empty body or ``{}``; any field is refused."""


# --- customer: preferences ----------------------------------------------------------------------
@extend_schema_field(
    {
        "type": "object",
        "example": {"news": {"in_app": False}},
        "additionalProperties": {"type": ["object", "null"], "additionalProperties": {"type": ["boolean", "null"]}},
    }
)
class PreferencesField(serializers.Field):
    """``{category or "*": {channel: true | false | null}}``. null means "no choice of my own" (the
    workspace default applies); a whole category may be null too."""

    default_error_messages = {"not_object": "Must be an object of categories."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        try:  # before validating each one: 100,000 categories are refused by their count
            models.validate_preference_count(len(data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        errors: dict[str, Any] = {}
        result: dict[str, dict[str, bool | None] | None] = {}
        for category, channels in data.items():
            try:
                models.validate_preference_category(category)
                ProhibitNullCharactersValidator()(category)
            except DjangoValidationError as exc:
                errors[category] = exc.messages
                continue
            if channels is None:
                result[category] = None
                continue
            if not isinstance(channels, dict):
                errors[category] = [f"Must be an object of channels ({', '.join(CHANNELS)})."]
                continue
            channel_errors: dict[str, list[str]] = {}
            for channel, enabled in channels.items():
                if channel not in CHANNELS:
                    channel_errors[channel] = [f"Unknown channel; use one of {', '.join(CHANNELS)}."]
                elif enabled is not None and not isinstance(enabled, bool):
                    channel_errors[channel] = ["Must be true, false or null."]
            if channel_errors:
                errors[category] = channel_errors
                continue
            result[category] = dict(channels)
        if errors:
            raise serializers.ValidationError(errors)
        return result

    def to_representation(self, value):
        return value


class PreferencesInputSerializer(StrictSerializer):
    preferences = PreferencesField()
    effective = serializers.DictField(read_only=True)
    defaults = serializers.DictField(read_only=True)


# --- customer: communication settings -----------------------------------------------------------
class NullableTextField(StrictCharField):
    """A text setting where null means "not set" (stored as an empty string)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, **kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)

    def to_representation(self, value):
        return value or None


class QuietHoursSerializer(StrictSerializer):
    enabled = StrictBooleanField(required=False, source="quiet_hours_enabled")
    start = HourMinuteField(required=False, allow_null=True, source="quiet_hours_start")
    end = HourMinuteField(required=False, allow_null=True, source="quiet_hours_end")


class InAppChannelSerializer(StrictSerializer):
    enabled = StrictBooleanField(required=False, source="in_app_enabled")


class EmailChannelSerializer(StrictSerializer):
    enabled = StrictBooleanField(required=False, source="email_enabled")
    address = NullableTextField(
        source="email_address", max_length=254, validators=[EmailValidator("Enter a valid email address.")]
    )


class SmsChannelSerializer(StrictSerializer):
    enabled = StrictBooleanField(required=False, source="sms_enabled")
    phone_number = NullableTextField(
        source="sms_phone_number", max_length=models.PHONE_NUMBER_MAX_LENGTH, validators=[models.PHONE_NUMBER_VALIDATOR]
    )


class PushChannelSerializer(StrictSerializer):
    enabled = StrictBooleanField(required=False, source="push_enabled")
    device_tokens = serializers.JSONField(
        required=False, source="push_device_tokens", validators=[models.validate_push_device_tokens]
    )


class ChannelsSerializer(StrictSerializer):
    in_app = InAppChannelSerializer(required=False, source="*")
    email = EmailChannelSerializer(required=False, source="*")
    sms = SmsChannelSerializer(required=False, source="*")
    push = PushChannelSerializer(required=False, source="*")


class CommunicationSettingsSerializer(StrictSerializer):
    """Reads as the API document; validates into model field values (only the fields sent)."""

    locale = NullableTextField(max_length=models.LOCALE_MAX_LENGTH, validators=[models.LOCALE_VALIDATOR])
    time_zone = StrictCharField(
        required=False, trim_whitespace=False, max_length=64, validators=[models.validate_time_zone]
    )
    quiet_hours = QuietHoursSerializer(required=False, source="*")
    channels = ChannelsSerializer(required=False, source="*")


# Where a model field of CommunicationSettings appears in the API document when it is nested (others
# are at the top, under their own name): errors that the model raises (cross-field rules in
# CommunicationSettings.clean) are reported at the path the client sent.
COMMUNICATION_SETTINGS_PATHS: dict[str, tuple[str, ...]] = {
    "quiet_hours_enabled": ("quiet_hours", "enabled"),
    "quiet_hours_start": ("quiet_hours", "start"),
    "quiet_hours_end": ("quiet_hours", "end"),
    "in_app_enabled": ("channels", "in_app", "enabled"),
    "email_enabled": ("channels", "email", "enabled"),
    "email_address": ("channels", "email", "address"),
    "sms_enabled": ("channels", "sms", "enabled"),
    "sms_phone_number": ("channels", "sms", "phone_number"),
    "push_enabled": ("channels", "push", "enabled"),
    "push_device_tokens": ("channels", "push", "device_tokens"),
}


def communication_settings_errors(error: DjangoValidationError) -> dict[str, Any]:
    """A model ValidationError as ``details`` shaped like the API document."""
    details: dict[str, Any] = {}
    for field, messages in error.message_dict.items():
        path = COMMUNICATION_SETTINGS_PATHS.get(field, (field,))
        node = details
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = messages
    return details


def communication_settings_data(settings: CommunicationSettings) -> dict[str, Any]:
    hm = HourMinuteField()
    return {
        "locale": settings.locale or None,
        "time_zone": settings.time_zone,
        "quiet_hours": {
            "enabled": settings.quiet_hours_enabled,
            "start": hm.to_representation(settings.quiet_hours_start),
            "end": hm.to_representation(settings.quiet_hours_end),
        },
        "channels": {
            "in_app": {"enabled": settings.in_app_enabled},
            "email": {"enabled": settings.email_enabled, "address": settings.email_address or None},
            "sms": {"enabled": settings.sms_enabled, "phone_number": settings.sms_phone_number or None},
            "push": {"enabled": settings.push_enabled, "device_tokens": list(settings.push_device_tokens)},
        },
    }


class InboxFilterSerializer(StrictSerializer):
    """Which items a bulk action applies to, when not named by id: all, or those of one category,
    or those older than a given message."""

    category = StrictCharField(
        required=False,
        trim_whitespace=False,
        max_length=models.CATEGORY_MAX_LENGTH,
        validators=[models.CATEGORY_VALIDATOR],
    )
    before = serializers.UUIDField(required=False, help_text="A message id: only items older than its item.")


class InboxBulkSerializer(StrictSerializer):
    """``POST customer/inbox/bulk``: one action on up to 100 items by id, or on every item a filter matches."""

    action = serializers.ChoiceField(choices=["read", "unread", "seen", "archive", "unarchive", "delete"])
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, min_length=1)
    filter = InboxFilterSerializer(required=False)

    def validate_ids(self, value):
        if len(value) > models.INBOX_BULK_MAX_IDS:
            raise serializers.ValidationError(f"At most {models.INBOX_BULK_MAX_IDS} ids; use a filter for more.")
        return list(dict.fromkeys(value))

    def validate(self, attrs):
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"ids": ["Give either ids or a filter."]})
        return attrs


class SnoozeSerializer(StrictSerializer):
    """``POST customer/inbox/{id}/snooze``."""

    until = serializers.DateTimeField(help_text="When the item wakes (RFC 3339), at most 90 days ahead.")
