"""The notification API's responses as OpenAPI components (authplatform/openapi.py has the shared parts).

The views render plain dicts (the ``*_data`` functions of serializers.py, also used for live events);
these serializers only describe them for drf-spectacular. tests/foundation/test_openapi.py checks the
responses of a live server against the schema, so a field added to one and not the other fails there.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes
from rest_framework import serializers

from notifications.serializers import IDEMPOTENCY_KEY_HEADER


class MessageContentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    body = serializers.CharField()
    category = serializers.CharField()
    action_url = serializers.URLField(allow_null=True)
    data = serializers.DictField(help_text="The sender's JSON object, as sent.")  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="The sender's expiry; null: none.")


class InAppMessageAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    product_space_code = serializers.CharField()
    recipients = serializers.IntegerField(help_text="Distinct customer ids in the request.")
    stored = serializers.IntegerField(help_text="Inbox items stored (recipients who did not opt out).")
    suppressed = serializers.IntegerField(help_text="Recipients whose preferences turned in-app messages off.")
    created_at = serializers.DateTimeField()


class InAppMessageStatusSerializer(MessageContentSerializer):
    product_space_code = serializers.CharField()
    recipients = serializers.IntegerField()
    stored = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    delivered = serializers.IntegerField(help_text="Inbox items that exist now.")
    read = serializers.IntegerField()
    unread = serializers.IntegerField()
    archived = serializers.IntegerField()


class InboxItemSerializer(MessageContentSerializer):
    """A message as its recipient sees it; also the payload of the live ``inAppMessage`` event."""

    seen = serializers.BooleanField(help_text="The customer opened the bell since it arrived.")
    seen_at = serializers.DateTimeField(allow_null=True)
    read = serializers.BooleanField()
    read_at = serializers.DateTimeField(allow_null=True)
    archived = serializers.BooleanField()
    archived_at = serializers.DateTimeField(allow_null=True)
    snoozed_until = serializers.DateTimeField(allow_null=True, help_text="Hidden until then (snoozed); else null.")
    woken_at = serializers.DateTimeField(allow_null=True, help_text="When it last woke from a snooze; else null.")


class InboxPageSerializer(serializers.Serializer):
    results = InboxItemSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for the next page; null on the last."
    )


class UnreadCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class CountsSerializer(serializers.Serializer):
    unseen = serializers.IntegerField(help_text="Listed items not seen yet (the bell's badge).")
    unread = serializers.IntegerField(help_text="Listed items not read yet.")
    total = serializers.IntegerField(help_text="Listed items: not archived, not deleted.")


class BulkResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text="Items this call changed (those already so are not counted).")
    counts = CountsSerializer()


class ReadAllSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text="Items marked read by this call.")
    count = serializers.IntegerField(help_text="The unread count after it.")


class PreferencesSerializer(serializers.Serializer):
    preferences = serializers.DictField(
        help_text='The customer\'s own choices: {category or "*": {channel: true | false}}.'
    )
    effective = serializers.DictField(
        help_text="What applies: the customer's choices, then the product space's defaults, then the workspace's; "
        "a critical category ignores the customer's choices."
    )
    defaults = serializers.DictField(help_text="The defaults that apply: the product space's over the workspace's.")
    critical = serializers.ListField(
        child=serializers.CharField(),
        help_text="Categories the customer cannot mute (a PUT or PATCH muting one is a 400).",
    )


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_KEY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="1 to 255 visible ASCII characters. The same key and body within 24 hours answer as the first "
    "request did (header `Idempotent-Replayed: true`) and store nothing; another body is a 409.",
)
