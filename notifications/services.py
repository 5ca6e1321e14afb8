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
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from authplatform.conf import platform_settings
from authplatform.errors import Conflict, InvalidInput, ObjectNotFound
from authplatform.fastpaths.bulk_insert import rows_insert
from credentials.models import ProductSpace, Role
from live.fanout import (
    COUNTS_EVENT,
    IN_APP_MESSAGE_EVENT,
    INBOX_UPDATED_EVENT,
    UNREAD_COUNT_EVENT,
    CustomerNotification,
    live_order_key,
    notify_customers,
)
from notifications import selectors
from notifications.announcer import announcer
from notifications.models import (
    ANY_CATEGORY,
    INBOX_BULK_MAX_IDS,
    INBOX_SNOOZE_MAX_DAYS,
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
    expires_at: datetime | None = None,
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
        "expires_at": expires_at,
    }
    if idempotency_key is None:
        with transaction.atomic():
            return _message_store(product_space=product_space, sender=sender, **content)

    digest = _request_digest(
        {"product_space_code": product_space_code, **content, "expires_at": expires_at and expires_at.isoformat()}
    )
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
    expires_at: datetime | None = None,
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
        expires_at=expires_at,
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
    key = ProductSpace._meta.pk.get_db_prep_value(product_space.pk, connection)
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
            "expires_at": message.expires_at,
        },
    )


def _announce_message(*, message: InAppMessage, customer_ids: list[str]) -> Iterator[None]:
    product_space = message.product_space
    payload = inbox_item_data(InboxItem(message=message))
    yield  # the rest once the request's response is out (notifications/announcer.py)
    # Read after the response: the recipients' counts grow with their inboxes, and read beside the
    # response they slowed it (the send API's p99 rose over a bench run as the inboxes filled).
    counts = selectors.inbox_counts_many(product_space=product_space, customer_ids=customer_ids)
    # One payload object per distinct value: notify_customers encodes each distinct payload once.
    payloads: dict[tuple, dict] = {}
    notifications: list[CustomerNotification] = []
    for customer_id in customer_ids:
        notifications.append(_notification(product_space, customer_id, IN_APP_MESSAGE_EVENT, payload))
        notifications.extend(_count_notifications(product_space, customer_id, counts[customer_id], payloads))
    # Numbered: every process delivers the product space's messages in this order (live/recovery.py).
    notify_customers(
        notifications,
        sequence=(
            live_order_key(workspace_code=product_space.workspace.code, product_space_code=product_space.code),
            message.sequence,
        ),
        committed_at=announcer.submitted_at,  # for the fan-out latency metric (authplatform/metrics.py)
    )


def _count_notifications(
    product_space: ProductSpace, customer_id: str, counts: dict[str, int], payloads: dict[tuple, dict]
) -> list[CustomerNotification]:
    """``unreadCount`` (what the seed's clients listen to) and ``counts`` (unseen, unread, total)."""
    unread = payloads.setdefault(("unread", counts["unread"]), {"count": counts["unread"]})
    three = payloads.setdefault(("counts", *counts.values()), dict(counts))
    return [
        _notification(product_space, customer_id, UNREAD_COUNT_EVENT, unread),
        _notification(product_space, customer_id, COUNTS_EVENT, three),
    ]


def _notification(product_space: ProductSpace, customer_id: str, event: str, data: Any) -> CustomerNotification:
    return CustomerNotification(
        workspace_code=product_space.workspace.code,
        product_space_code=product_space.code,
        customer_id=customer_id,
        event=event,
        data=data,
    )


def _announce_inbox_change(*, product_space: ProductSpace, customer_id: str, update: dict[str, Any]) -> Iterator[None]:
    counts = selectors.inbox_counts(product_space=product_space, customer_id=customer_id)
    yield  # as above
    notify_customers(
        [
            _notification(product_space, customer_id, INBOX_UPDATED_EVENT, update),
            *_count_notifications(product_space, customer_id, counts, {}),
        ]
    )


def _after_commit_inbox_change(*, product_space: ProductSpace, customer_id: str, update: dict[str, Any]) -> None:
    transaction.on_commit(
        partial(
            announcer.submit,
            partial(_announce_inbox_change, product_space=product_space, customer_id=customer_id, update=update),
        ),
        robust=True,
    )


# --- inbox --------------------------------------------------------------------------------------
# Each change: the field it sets (or clears), and whether it sets it.
INBOX_CHANGES: dict[str, tuple[str, bool]] = {
    "read": ("read_at", True),
    "unread": ("read_at", False),
    "seen": ("seen_at", True),
    "archive": ("archived_at", True),
    "unarchive": ("archived_at", False),
    "delete": ("deleted_at", True),
}


@dataclass(frozen=True)
class InboxFilter:
    """Which items a filtered change applies to: all of the customer's, or those of ``category``,
    or those older than the item of message ``before``."""

    category: str | None = None
    before: Any = None  # a message id


def inbox_items_change(
    *,
    product_space: ProductSpace,
    customer_id: str,
    change: str,
    message_ids: Sequence[Any] | None = None,
    where: InboxFilter | None = None,
) -> int:
    """Apply ``change`` (INBOX_CHANGES) to the customer's items of ``message_ids`` (at most
    INBOX_BULK_MAX_IDS), or to those ``where`` matches (all of them without one), in one transaction.

    Items already so are left alone. After commit, every socket of the customer hears one
    ``inboxUpdated`` (``{"ids": [the message ids that changed], "change"}``; for a filtered change
    ``{"ids": null, "change", "filter"}``) and the counts, when anything changed. Returns how many
    items changed. A message id that is not in the customer's inbox (another customer's, deleted,
    unknown) is ObjectNotFound naming it, and nothing changes.
    """
    field_name, on = INBOX_CHANGES[change]
    value = timezone.now() if on else None
    with transaction.atomic():
        items = selectors.customer_items(product_space=product_space, customer_id=customer_id)
        if message_ids is not None:
            wanted = list(dict.fromkeys(message_ids))[:INBOX_BULK_MAX_IDS]
            # Locked, so the ids announced are the rows this transaction changed.
            rows = list(
                items.filter(message_id__in=wanted).select_for_update().values_list("pk", "message_id", field_name)
            )
            missing = set(map(str, wanted)) - {str(message_id) for _, message_id, _ in rows}
            if missing:
                raise ObjectNotFound(
                    "message_not_found", "No message with this id in your inbox.", details={"ids": sorted(missing)}
                )
            pending = [(pk, message_id) for pk, message_id, current in rows if (current is None) == on]
            changed = InboxItem.objects.filter(pk__in=[pk for pk, _ in pending]).update(**{field_name: value})
            update: dict[str, Any] = {"ids": [str(message_id) for _, message_id in pending], "change": change}
        else:
            items = items.filter(**{f"{field_name}__isnull": on})
            where = where or InboxFilter()
            if where.category is not None:
                items = items.filter(category=where.category)
            if where.before is not None:
                pivot = selectors.inbox_item_get(
                    product_space=product_space, customer_id=customer_id, message_id=where.before
                )
                items = items.filter(id__lt=pivot.id)
            # One conditional UPDATE: concurrent changes never count an item twice.
            changed = items.update(**{field_name: value})
            update = {
                "ids": None,
                "change": change,
                "filter": {"category": where.category, "before": str(where.before) if where.before else None},
            }
        if changed:
            _after_commit_inbox_change(product_space=product_space, customer_id=customer_id, update=update)
    return changed


def inbox_item_change(*, product_space: ProductSpace, customer_id: str, message_id, change: str) -> InboxItem:
    """``change`` one item; the item as it is afterwards. A message that is not in the customer's inbox
    (or that they deleted) is ObjectNotFound."""
    with transaction.atomic():
        selectors.inbox_item_get(product_space=product_space, customer_id=customer_id, message_id=message_id)
        inbox_items_change(
            product_space=product_space, customer_id=customer_id, change=change, message_ids=[message_id]
        )
        if change == "delete":
            return InboxItem.objects.select_related("message").get(
                product_space=product_space, customer_id=customer_id, message_id=message_id
            )
        return selectors.inbox_item_get(product_space=product_space, customer_id=customer_id, message_id=message_id)


def inbox_item_snooze(*, product_space: ProductSpace, customer_id: str, message_id, until: datetime) -> InboxItem:
    """Hide the item until ``until`` (in the future, at most INBOX_SNOOZE_MAX_DAYS ahead); it then wakes
    unread and unseen (``inbox_snoozes_wake``). Snoozing again moves the time."""
    now = timezone.now()
    if not now < until <= now + timedelta(days=INBOX_SNOOZE_MAX_DAYS):
        raise InvalidInput(
            "invalid_snooze", f"Snooze until a time in the future, at most {INBOX_SNOOZE_MAX_DAYS} days ahead."
        )
    with transaction.atomic():
        item = selectors.inbox_item_get(product_space=product_space, customer_id=customer_id, message_id=message_id)
        InboxItem.objects.filter(pk=item.pk).update(snoozed_until=until)
        item.snoozed_until = until
        update = {"ids": [str(message_id)], "change": "snooze"}
        _after_commit_inbox_change(product_space=product_space, customer_id=customer_id, update=update)
    return item


def inbox_item_unsnooze(*, product_space: ProductSpace, customer_id: str, message_id) -> InboxItem:
    """Wake a snoozed item now, as its time would (an item not snoozed is left as it is)."""
    item = selectors.inbox_item_get(product_space=product_space, customer_id=customer_id, message_id=message_id)
    if item.snoozed_until is not None:
        inbox_snoozes_wake(item_ids=[item.pk])
    return selectors.inbox_item_get(product_space=product_space, customer_id=customer_id, message_id=message_id)


CLOCK_BATCH = 500  # rows the inbox clock wakes or expires per transaction


def inbox_snoozes_wake(
    *, now: datetime | None = None, item_ids: Sequence[int] | None = None, limit: int = CLOCK_BATCH
) -> int:
    """Wake the snoozed items whose time has come (or ``item_ids``): shown again, unread and unseen,
    and announced to their customers' sockets as ``inAppMessage`` (with ``woken_at``) and the counts.

    Run by every process's inbox clock (notifications/clock.py) each tick. Each item wakes exactly once
    however many processes run it: the rows are claimed locked (``skip_locked``: another process takes
    the others) and updated only while still snoozed.
    """
    now = now or timezone.now()
    if item_ids is None:
        if not selectors.inbox_snoozes_due(now=now):
            return 0  # the usual tick: one prepared read, no write transaction (SQLite would lock the database)
        due = selectors.snoozes_due(now=now)
    else:
        due = InboxItem.objects.filter(snoozed_until__isnull=False, pk__in=list(item_ids))
        if not due.exists():
            return 0
    with transaction.atomic():
        pks = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        if not pks:
            return 0
        woken = InboxItem.objects.filter(pk__in=pks, snoozed_until__isnull=False).update(
            snoozed_until=None, seen_at=None, read_at=None, woken_at=now
        )
        transaction.on_commit(partial(announcer.submit, partial(_announce_wakes, item_ids=pks)), robust=True)
    return woken


def _announce_wakes(*, item_ids: list[int]) -> None:
    items = list(InboxItem.objects.filter(pk__in=item_ids).select_related("message", "product_space__workspace"))
    by_customer: dict[tuple, list[InboxItem]] = {}
    for item in items:
        by_customer.setdefault((item.product_space_id, item.customer_id), []).append(item)
    notifications: list[CustomerNotification] = []
    for (_, customer_id), customer_items in by_customer.items():
        product_space = customer_items[0].product_space
        for item in customer_items:
            notifications.append(_notification(product_space, customer_id, IN_APP_MESSAGE_EVENT, inbox_item_data(item)))
        counts = selectors.inbox_counts(product_space=product_space, customer_id=customer_id)
        notifications.extend(_count_notifications(product_space, customer_id, counts, {}))
    notify_customers(notifications)


def inbox_items_expire(*, now: datetime | None = None, limit: int = CLOCK_BATCH) -> int:
    """Take items past their ``expires_at`` out of their customers' inboxes (marked deleted: the lists
    and counts already leave them out) and tell the customers' sockets (``inboxUpdated`` "expire")."""
    now = now or timezone.now()
    if not selectors.inbox_expiries_due(now=now):  # the usual tick: one prepared read, no write transaction
        return 0
    due = selectors.expiries_due(now=now)
    with transaction.atomic():
        rows = list(
            due.select_for_update(skip_locked=True).values_list("pk", "product_space_id", "customer_id", "message_id")[
                :limit
            ]
        )
        if not rows:
            return 0
        expired = InboxItem.objects.filter(pk__in=[row[0] for row in rows], deleted_at__isnull=True).update(
            deleted_at=now
        )
        by_customer: dict[tuple, list[str]] = {}
        for _, product_space_id, customer_id, message_id in rows:
            by_customer.setdefault((product_space_id, customer_id), []).append(str(message_id))
        transaction.on_commit(
            partial(announcer.submit, partial(_announce_expiries, by_customer=by_customer)), robust=True
        )
    return expired


def _announce_expiries(*, by_customer: dict[tuple, list[str]]) -> Iterator[None]:
    spaces = ProductSpace.objects.select_related("workspace").in_bulk({space for space, _ in by_customer})
    for (space_id, customer_id), message_ids in by_customer.items():
        # A generator since announcements finish after their response: called bare, it would do nothing.
        yield from _announce_inbox_change(
            product_space=spaces[space_id], customer_id=customer_id, update={"ids": message_ids, "change": "expire"}
        )


@dataclass(frozen=True)
class PurgeResult:
    items: int
    messages: int
    idempotency_records: int


def inbox_purge(*, now: datetime | None = None, batch_size: int = 1000) -> PurgeResult:
    """Delete what is past INBOX_RETENTION_DAYS (inbox items, then messages left without items) and
    idempotency records past their time, ``batch_size`` rows per statement and transaction, so no lock
    is held for long and sends go on meanwhile. Run by ``manage.py purgeinbox`` and, once an hour, by
    every process's inbox clock."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=platform_settings.INBOX_RETENTION_DAYS)
    records = _delete_in_batches(IdempotencyRecord.objects.filter(expires_at__lt=now), batch_size)
    items = _delete_in_batches(InboxItem.objects.filter(created_at__lt=cutoff), batch_size)
    messages = _delete_in_batches(
        InAppMessage.objects.filter(created_at__lt=cutoff).exclude(inbox_items__isnull=False), batch_size
    )
    return PurgeResult(items=items, messages=messages, idempotency_records=records)


def _delete_in_batches(queryset, batch_size: int) -> int:
    deleted = 0
    while True:
        with transaction.atomic():
            pks = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not pks:
                return deleted
            deleted += queryset.model.objects.filter(pk__in=pks).delete()[1].get(queryset.model._meta.label, 0)


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
    muted = [
        category
        for category, channels in changes.items()
        if category != ANY_CATEGORY and channels and any(enabled is False for enabled in channels.values())
    ]
    locked = selectors.critical_categories(product_space=product_space, categories=muted) if muted else []
    if locked:
        raise InvalidInput(
            "critical_category",
            f"Critical categories cannot be muted: {', '.join(locked)}.",
            details={
                "preferences": {
                    category: [f"'{category}' is a critical category: it cannot be muted."] for category in locked
                }
            },
        )
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
