"""Services: every change to notification data goes through one of these functions.

Inputs arrive validated by notifications/serializers.py (formats, sizes, limits); these functions decide
the rules that need the database: which product space a sender may reach, preference suppression,
Idempotency-Key replay, and what customers are told live. Each write is one transaction, and live
events are sent only after it commits (``transaction.on_commit``), so whatever a socket receives is
already in the inbox. After the commit the announcement is handed to this process's announcer
(notifications/announcer.py) and the request goes on: reading the recipients' unread counts and
encoding the events run there, in the order the commits handed them over, never before the answer.

Live events (live/fanout.py): ``inAppMessage`` with the message as the recipient sees it
(serializers.inbox_item_data), and ``unreadCount`` with ``{"count": n}`` whenever a customer's
unread count may have changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from authplatform.conf import platform_settings
from authplatform.errors import Conflict
from authplatform.fastpaths.bulk_insert import rows_insert
from credentials.models import ProductSpace, Role
from live.fanout import (
    IN_APP_MESSAGE_EVENT,
    UNREAD_COUNT_EVENT,
    CustomerNotification,
    live_order_key,
    notify_customers,
)
from notifications import selectors
from notifications.announcer import announcer
from notifications.models import (
    Channel,
    CommunicationSettings,
    CustomerPreference,
    IdempotencyRecord,
    InAppMessage,
    InboxItem,
    MessageSequence,
    validate_preference_count,
)
from notifications.selectors import Sender
from notifications.serializers import inbox_item_data


def idempotency_key_reused() -> Conflict:
    return Conflict(
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request body "
        "in the last 24 hours. Use a new key for a new message.",
    )


# --- sending ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendResult:
    """The stored message, and whether it was stored by an earlier request with the same Idempotency-Key
    (the view renders both: the 202 body is the message's, so a replay answers exactly as the first)."""

    message: InAppMessage
    replayed: bool = False


def _request_digest(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def in_app_message_send(
    *,
    sender: Sender,
    product_space_code: str,
    recipients: Sequence[str],
    title: str,
    body: str,
    category: str,
    action_url: str = "",
    data: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> SendResult:
    """Store a message for each recipient who has not opted out, and announce it after commit.

    Another workspace's product space is a 404; an API user needs the ``write`` role there. With
    ``idempotency_key``, the same key and body within REALTIME_IDEMPOTENCY_TTL returns the first
    request's message and stores nothing; another body is a 409.
    Duplicate customer ids count once.
    """
    product_space = selectors.product_space_for_sender(sender=sender, code=product_space_code, role=Role.WRITE)
    content: dict[str, Any] = {
        "recipients": list(recipients),
        "title": title,
        "body": body,
        "category": category,
        "action_url": action_url or "",
        "data": dict(data or {}),
    }
    if idempotency_key is None:
        with transaction.atomic():
            return _message_store(product_space=product_space, sender=sender, **content)

    digest = _request_digest({"product_space_code": product_space_code, **content})
    try:
        return _message_send_once(
            product_space=product_space, sender=sender, key=idempotency_key, digest=digest, content=content
        )
    except IntegrityError:
        # A concurrent request with the same key committed first (its record's unique index held us
        # back until then): our transaction rolled back; answer as that request did.
        return _message_send_once(
            product_space=product_space, sender=sender, key=idempotency_key, digest=digest, content=content
        )


def _message_send_once(
    *, product_space: ProductSpace, sender: Sender, key: str, digest: str, content: dict[str, Any]
) -> SendResult:
    with transaction.atomic():
        now = timezone.now()
        record = (
            IdempotencyRecord.objects.select_for_update(of=("self",))
            .select_related("message__product_space")
            .filter(workspace_id=product_space.workspace_id, key=key)
            .first()
        )
        if record is not None and record.expires_at > now:
            if record.request_digest != digest:
                raise idempotency_key_reused()
            return SendResult(message=record.message, replayed=True)  # type: ignore[arg-type]  # a live record has one
        if record is not None:
            record.delete()  # expired: the key starts afresh
        # Claimed before the work, so a concurrent duplicate waits on this row instead of storing twice.
        record = IdempotencyRecord.objects.create(
            workspace_id=product_space.workspace_id,
            key=key,
            request_digest=digest,
            created_at=now,
            expires_at=now + timedelta(seconds=platform_settings.REALTIME_IDEMPOTENCY_TTL),
        )
        result = _message_store(product_space=product_space, sender=sender, **content)
        record.message = result.message
        record.save(update_fields=["message"])
        return result


def _message_store(
    *,
    product_space: ProductSpace,
    sender: Sender,
    recipients: Sequence[str],
    title: str,
    body: str,
    category: str,
    action_url: str,
    data: dict[str, Any],
) -> SendResult:
    distinct = list(dict.fromkeys(recipients))
    suppressed = selectors.customers_suppressed(
        product_space=product_space, customer_ids=distinct, category=category, channel=Channel.IN_APP
    )
    delivered = [customer_id for customer_id in distinct if customer_id not in suppressed]
    # Taken last before the writes, so the number's row lock (held to commit) covers as little as it can.
    sequence = message_sequence_next(product_space=product_space) if delivered else None
    message = InAppMessage.objects.create(
        workspace_id=product_space.workspace_id,
        product_space=product_space,
        title=title,
        body=body,
        category=category,
        action_url=action_url,
        data=data,
        sent_by=sender.label[:200],
        recipient_count=len(distinct),
        stored_count=len(delivered),
        suppressed_count=len(suppressed),
        sequence=sequence,
    )
    _inbox_items_insert(message=message, customer_ids=delivered)
    if delivered:
        transaction.on_commit(
            partial(announcer.submit, partial(_announce_message, message=message, customer_ids=delivered)), robust=True
        )
    return SendResult(message=message)


def message_sequence_next(*, product_space: ProductSpace) -> int:
    """The next number of ``product_space``'s live order (models.MessageSequence), inside the caller's
    transaction: one upsert, whose row lock orders concurrent sends of the space until they commit."""
    table = connection.ops.quote_name(MessageSequence._meta.db_table)
    key = ProductSpace._meta.pk.get_db_prep_value(product_space.pk, connection)  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        # PostgreSQL and SQLite (3.35+) both take this upsert with RETURNING.
        cursor.execute(
            f"INSERT INTO {table} (product_space_id, last_value) VALUES (%s, 1) "
            f"ON CONFLICT (product_space_id) DO UPDATE SET last_value = {table}.last_value + 1 "
            "RETURNING last_value",
            [key],
        )
        return cursor.fetchone()[0]


def _inbox_items_insert(*, message: InAppMessage, customer_ids: Sequence[str]) -> None:
    """One inbox row per customer (read_at and archived_at take their defaults), in one statement."""
    rows_insert(
        model=InboxItem,
        varying="customer_id",
        values=customer_ids,
        shared={
            "message": message.pk,
            "product_space": message.product_space_id,
            "category": message.category,
            "created_at": message.created_at,
        },
    )


def _announce_message(*, message: InAppMessage, customer_ids: list[str]) -> Iterator[None]:
    product_space = message.product_space
    payload = inbox_item_data(InboxItem(message=message))
    counts = selectors.inbox_unread_counts(product_space=product_space, customer_ids=customer_ids)
    yield  # the rest once the request's response is out (notifications/announcer.py)
    # One payload object per distinct count: notify_customers encodes each distinct payload once.
    count_payloads: dict[int, dict[str, int]] = {}
    notifications: list[CustomerNotification] = []
    for customer_id in customer_ids:
        count = counts.get(customer_id, 0)
        notifications.append(_notification(product_space, customer_id, IN_APP_MESSAGE_EVENT, payload))
        notifications.append(
            _notification(
                product_space, customer_id, UNREAD_COUNT_EVENT, count_payloads.setdefault(count, {"count": count})
            )
        )
    # Numbered: every process delivers the product space's messages in this order (live/recovery.py).
    notify_customers(
        notifications,
        sequence=(
            live_order_key(workspace_code=product_space.workspace.code, product_space_code=product_space.code),
            message.sequence,
        ),
        committed_at=announcer.submitted_at,  # for the fan-out latency metric (authplatform/metrics.py)
    )


def _notification(product_space: ProductSpace, customer_id: str, event: str, data: Any) -> CustomerNotification:
    return CustomerNotification(
        workspace_code=product_space.workspace.code,
        product_space_code=product_space.code,
        customer_id=customer_id,
        event=event,
        data=data,
    )


def _announce_unread_count(*, product_space: ProductSpace, customer_id: str) -> Iterator[None]:
    count = selectors.inbox_unread_count(product_space=product_space, customer_id=customer_id)
    yield  # as above
    notify_customers([_notification(product_space, customer_id, UNREAD_COUNT_EVENT, {"count": count})])


def _after_commit_unread_count(*, product_space: ProductSpace, customer_id: str) -> None:
    # Through the same announcer as sends: one order per process, so a count never overtakes the
    # inAppMessage of a send committed before it.
    transaction.on_commit(
        partial(
            announcer.submit, partial(_announce_unread_count, product_space=product_space, customer_id=customer_id)
        ),
        robust=True,
    )


# --- inbox --------------------------------------------------------------------------------------
def _inbox_item_set(
    *, product_space: ProductSpace, customer_id: str, message_id, field_name: str, on: bool
) -> InboxItem:
    with transaction.atomic():
        item = selectors.inbox_item_get(product_space=product_space, customer_id=customer_id, message_id=message_id)
        current = getattr(item, field_name)
        if on and current is None:
            value = timezone.now()
        elif not on and current is not None:
            value = None
        else:
            return item  # already so: nothing changes, nothing is announced
        # Conditional, so that of two concurrent requests only one changes the row.
        changed = InboxItem.objects.filter(pk=item.pk, **{f"{field_name}__isnull": on}).update(**{field_name: value})
        setattr(item, field_name, value)
        if changed:
            _after_commit_unread_count(product_space=product_space, customer_id=customer_id)
    return item


def inbox_item_mark_read(*, product_space: ProductSpace, customer_id: str, message_id) -> InboxItem:
    return _inbox_item_set(
        product_space=product_space, customer_id=customer_id, message_id=message_id, field_name="read_at", on=True
    )


def inbox_item_mark_unread(*, product_space: ProductSpace, customer_id: str, message_id) -> InboxItem:
    return _inbox_item_set(
        product_space=product_space, customer_id=customer_id, message_id=message_id, field_name="read_at", on=False
    )


def inbox_item_archive(*, product_space: ProductSpace, customer_id: str, message_id) -> InboxItem:
    return _inbox_item_set(
        product_space=product_space, customer_id=customer_id, message_id=message_id, field_name="archived_at", on=True
    )


def inbox_item_unarchive(*, product_space: ProductSpace, customer_id: str, message_id) -> InboxItem:
    return _inbox_item_set(
        product_space=product_space, customer_id=customer_id, message_id=message_id, field_name="archived_at", on=False
    )


def inbox_mark_all_read(*, product_space: ProductSpace, customer_id: str) -> int:
    """Mark every unread message of the customer read (archived ones too). Returns how many changed."""
    with transaction.atomic():
        changed = InboxItem.objects.filter(
            product_space=product_space, customer_id=customer_id, read_at__isnull=True
        ).update(read_at=timezone.now())
        if changed:
            _after_commit_unread_count(product_space=product_space, customer_id=customer_id)
    return changed


# --- preferences --------------------------------------------------------------------------------
PreferenceChanges = Mapping[str, Mapping[str, bool | None] | None]


def _preference_count_check(count: int) -> None:
    try:
        validate_preference_count(count)
    except ValidationError as exc:
        raise ValidationError({"preferences": exc.messages}) from None


def customer_preferences_update(
    *, product_space: ProductSpace, customer_id: str, changes: PreferenceChanges, replace: bool
) -> selectors.CustomerPreferences:
    """Apply ``{category: {channel: true | false | null}}``; null (for a channel or a whole category)
    removes the customer's own choice so the workspace default applies. ``replace`` (PUT) first removes
    every choice not in ``changes``. At most REALTIME_MAX_PREFERENCE_CATEGORIES categories are kept."""
    # Before any write: a huge body must not hold the write lock for one query per category.
    _preference_count_check(len(changes))
    with transaction.atomic():
        own = CustomerPreference.objects.filter(product_space=product_space, customer_id=customer_id)
        if replace:
            own.delete()
        for category, channels in changes.items():
            if channels is None:
                own.filter(category=category).delete()
                continue
            for channel, enabled in channels.items():
                if enabled is None:
                    own.filter(category=category, channel=channel).delete()
                else:
                    CustomerPreference.objects.update_or_create(
                        product_space=product_space,
                        customer_id=customer_id,
                        category=category,
                        channel=channel,
                        defaults={"enabled": enabled},
                    )
        _preference_count_check(own.values("category").distinct().count())  # a PATCH adding to what is stored
    return selectors.customer_preferences_get(product_space=product_space, customer_id=customer_id)


# --- communication settings ---------------------------------------------------------------------
COMMUNICATION_SETTINGS_FIELDS = CommunicationSettings.SETTINGS_FIELDS


def communication_settings_update(
    *, product_space: ProductSpace, customer_id: str, changes: Mapping[str, Any], replace: bool
) -> CommunicationSettings:
    """Set the given model fields; ``replace`` (PUT) resets every other field to its default first.
    Raises ValidationError keyed by model field (e.g. quiet hours that start when they end)."""
    unknown = set(changes) - set(COMMUNICATION_SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Not communication settings fields: {sorted(unknown)}")
    with transaction.atomic():
        CommunicationSettings.objects.get_or_create(product_space=product_space, customer_id=customer_id)
        settings = CommunicationSettings.objects.select_for_update().get(
            product_space=product_space, customer_id=customer_id
        )
        if replace:
            defaults = CommunicationSettings()
            for name in COMMUNICATION_SETTINGS_FIELDS:
                setattr(settings, name, getattr(defaults, name))
        for name, value in changes.items():
            setattr(settings, name, value)
        settings.full_clean(exclude=["product_space", "customer_id"], validate_unique=False)
        settings.save()
    return settings
