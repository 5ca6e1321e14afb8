"""Selectors: every read of the notification data, scoped to who is asking.

Customer reads take the customer's ``product_space`` and ``customer_id`` (from the verified JWT) and
filter on both first; server reads take a ``Sender`` (the caller's role in each workspace). So a
row of another customer, product space or workspace is never found, and "not found" is all anyone
learns about it (404, never 403).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db.models import Count, IntegerField, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from authplatform.errors import ObjectNotFound
from authplatform.fastpaths.prepared import SAMPLE_NOW, SAMPLE_TEXT, PreparedQuery
from credentials.models import ProductSpace, Workspace
from notifications.models import (
    ANY_CATEGORY,
    CHANNELS,
    CommunicationSettings,
    CriticalCategory,
    CustomerPreference,
    InAppMessage,
    InboxItem,
    MessageSequence,
    PreferenceDefault,
)
from tokens.permissions import caller_role, role_check
from tokens.principals import ApiKeyAuth, ClientPrincipal


# --- who sends ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sender:
    """A server-to-server caller: a label for the record, and its role in a given workspace (None: no
    access at all). ``role_in`` is tokens.permissions.caller_role bound to the request, the one place
    that decides who holds which role."""

    label: str
    role_in: Callable[[Workspace], str | None]

    def check(self, workspace: Workspace, role: str, *, not_found: ObjectNotFound) -> None:
        """``not_found`` when the sender has no role in ``workspace`` (so that another workspace's
        objects look like missing ones); 403 when its role there is below ``role``."""
        role_check(held=self.role_in(workspace), workspace=workspace, role=role, not_found=not_found)


def sender_for_request(request) -> Sender:
    principal, auth = request.user, request.auth
    if isinstance(principal, ClientPrincipal):
        label = f"client {principal.client.client_key}"
    elif isinstance(auth, ApiKeyAuth):
        label = f"api key {auth.api_key.hint}… of {principal.get_username()}" + (" (token)" if auth.via_token else "")
    else:
        label = str(principal)
    return Sender(label=label, role_in=partial(caller_role, request))


def product_space_for_sender(*, sender: Sender, code: str, role: str) -> ProductSpace:
    """The product space ``code`` where the sender holds ``role``. Unknown and other workspaces' codes
    are the same 404, so codes cannot be probed."""
    not_found = ObjectNotFound("product_space_not_found", "No product space with this code in your workspace.")
    product_space = ProductSpace.objects.select_related("workspace").filter(code=code).first()
    if product_space is None:
        raise not_found
    sender.check(product_space.workspace, role, not_found=not_found)
    return product_space


def in_app_message_get_for_sender(*, sender: Sender, message_id, role: str) -> InAppMessage:
    not_found = ObjectNotFound("message_not_found", "No in-app message with this id in your workspace.")
    message = InAppMessage.objects.select_related("product_space", "workspace").filter(pk=message_id).first()
    if message is None:
        raise not_found
    sender.check(message.workspace, role, not_found=not_found)
    return message


def in_app_message_counts(*, message: InAppMessage) -> dict[str, int]:
    """How many recipients have it in their inbox, have read it, have archived it (one query)."""
    counts = InboxItem.objects.filter(message=message).aggregate(
        delivered=Count("id"),
        read=Count("id", filter=Q(read_at__isnull=False)),
        archived=Count("id", filter=Q(archived_at__isnull=False)),
    )
    return {name: counts[name] or 0 for name in ("delivered", "read", "archived")}


# --- inbox --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    next_position: int | None  # the last item's id when there are more, for the next cursor


def _not_expired(items, now: datetime | None = None):
    # The inbox clock marks expired items deleted within a tick; until it has, they are left out here.
    return items.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now()))


def customer_items(*, product_space: ProductSpace, customer_id: str):
    """The customer's items, those they deleted (or that expired) left out; deleted rows stay for the
    sender's statistics."""
    return _not_expired(
        InboxItem.objects.filter(product_space=product_space, customer_id=customer_id, deleted_at__isnull=True)
    )


def inbox_items_list(
    *,
    product_space: ProductSpace,
    customer_id: str,
    limit: int,
    before: int | None = None,
    unread: bool | None = None,
    seen: bool | None = None,
    archived: bool = False,
    snoozed: bool = False,
    categories: Collection[str] = (),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> InboxPage:
    """A page of the customer's inbox, newest first, after the position ``before`` (a cursor)."""
    items = customer_items(product_space=product_space, customer_id=customer_id)
    items = items.filter(archived_at__isnull=not archived, snoozed_until__isnull=not snoozed)
    if unread is not None:
        items = items.filter(read_at__isnull=unread)
    if seen is not None:
        items = items.filter(seen_at__isnull=not seen)
    if categories:
        items = items.filter(category__in=list(categories))
    if created_after is not None:
        items = items.filter(created_at__gt=created_after)
    if created_before is not None:
        items = items.filter(created_at__lt=created_before)
    if before is not None:
        items = items.filter(id__lt=before)
    rows = list(items.select_related("message").order_by("-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(items=rows, next_position=rows[-1].id if more else None)


def inbox_item_get(*, product_space: ProductSpace, customer_id: str, message_id) -> InboxItem:
    item = (
        customer_items(product_space=product_space, customer_id=customer_id)
        .select_related("message")
        .filter(message_id=message_id)
        .first()
    )
    if item is None:
        raise ObjectNotFound("message_not_found", "No message with this id in your inbox.")
    return item


def listed_items(*, product_space: ProductSpace | int, customer_ids: Collection[str], now: datetime | None = None):
    """Not archived, deleted, snoozed or expired: what the inbox lists by default and ``total`` counts
    (rt_inbox_listed)."""
    return _not_expired(
        InboxItem.objects.filter(
            product_space=product_space,
            customer_id__in=customer_ids,
            archived_at__isnull=True,
            deleted_at__isnull=True,
            snoozed_until__isnull=True,
        ),
        now,
    )


UNREAD = Q(read_at__isnull=True)
UNSEEN = Q(seen_at__isnull=True)


def unread_items(*, product_space: ProductSpace | int, customer_ids: Collection[str], now: datetime | None = None):
    """Listed and unread: what the unread count counts (an index-only count of rt_inbox_unread_listed)."""
    return listed_items(product_space=product_space, customer_ids=customer_ids, now=now).filter(UNREAD)


def unseen_items(*, product_space: ProductSpace | int, customer_ids: Collection[str], now: datetime | None = None):
    """Listed and unseen: the badge (rt_inbox_unseen_listed)."""
    return listed_items(product_space=product_space, customer_ids=customer_ids, now=now).filter(UNSEEN)


COUNTED = {"unseen": unseen_items, "unread": unread_items, "total": listed_items}


class _CountOf(Subquery):
    """A count as a column: ``(SELECT COUNT(*) FROM (<queryset>))``, answered by the queryset's own index."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) counted)"
    output_field = IntegerField()


def _counts_row(*, product_space_id: int, customer_id: str, now: datetime, with_sequence: bool):
    """One row: the product space's latest send number (``with_sequence``), then the ``COUNTED`` counts,
    each its own subquery over its own partial index."""
    counts = [
        _CountOf(items(product_space=product_space_id, customer_ids=[customer_id], now=now).order_by().values("pk"))
        for items in COUNTED.values()
    ]
    columns = [Coalesce(Subquery(_sequence_of(product_space_id)[:1]), 0), *counts] if with_sequence else counts
    return ProductSpace.objects.filter(pk=product_space_id).order_by().values_list(*columns)


# Counted on every connect, every inbox change and every counts request: compiled once
# (authplatform/fastpaths/prepared.py; building the three counts' queries was most of a connect's CPU).
_COUNTS_SAMPLES = {"product_space_id": -271828, "customer_id": SAMPLE_TEXT, "now": SAMPLE_NOW}
_COUNTS_FIELDS = {
    "product_space_id": ProductSpace._meta.pk,
    "customer_id": InboxItem._meta.get_field("customer_id"),
    "now": InboxItem._meta.get_field("expires_at"),
}
_counts = PreparedQuery(partial(_counts_row, with_sequence=False), samples=_COUNTS_SAMPLES, fields=_COUNTS_FIELDS)
_sequence_and_counts = PreparedQuery(
    partial(_counts_row, with_sequence=True), samples=_COUNTS_SAMPLES, fields=_COUNTS_FIELDS
)


def snoozes_due(*, now: datetime):
    """Snoozed items whose time has come (rt_inbox_snoozed): what the inbox clock wakes."""
    return InboxItem.objects.filter(snoozed_until__lte=now)


def expiries_due(*, now: datetime):
    """Items past their ``expires_at`` not yet taken out (rt_inbox_expiring): what the inbox clock expires."""
    return InboxItem.objects.filter(expires_at__lte=now, deleted_at__isnull=True)


# The inbox clock's question every tick in every process (notifications/clock.py): is anything due?
# Compiled once: the answer is nearly always no, and building the two queries was most of a tick.
_snoozes_due = PreparedQuery(
    lambda now: snoozes_due(now=now).order_by().values_list("pk")[:1],
    samples={"now": SAMPLE_NOW},
    fields={"now": InboxItem._meta.get_field("snoozed_until")},
)
_expiries_due = PreparedQuery(
    lambda now: expiries_due(now=now).order_by().values_list("pk")[:1],
    samples={"now": SAMPLE_NOW},
    fields={"now": InboxItem._meta.get_field("expires_at")},
)


def inbox_snoozes_due(*, now: datetime) -> bool:
    """Whether some snoozed item's time has come (rt_inbox_snoozed)."""
    return bool(_snoozes_due.rows(now=now))


def inbox_expiries_due(*, now: datetime) -> bool:
    """Whether some item not yet taken out is past its ``expires_at`` (rt_inbox_expiring)."""
    return bool(_expiries_due.rows(now=now))


def inbox_counts(*, product_space: ProductSpace, customer_id: str) -> dict[str, int]:
    """``{"unseen", "unread", "total"}`` of the customer's inbox, in one statement."""
    (row,) = _counts.rows(product_space_id=product_space.pk, customer_id=customer_id, now=timezone.now())
    return dict(zip(COUNTED, row, strict=True))


def inbox_counts_and_sequence(*, product_space: ProductSpace, customer_id: str) -> tuple[dict[str, int], int]:
    """``inbox_counts`` and ``message_sequence_current``, read in one statement (a connect's state)."""
    (row,) = _sequence_and_counts.rows(product_space_id=product_space.pk, customer_id=customer_id, now=timezone.now())
    return dict(zip(COUNTED, row[1:], strict=True)), row[0]


def inbox_counts_many(*, product_space: ProductSpace, customer_ids: Collection[str]) -> dict[str, dict[str, int]]:
    """``inbox_counts`` of many customers of one product space (a send's recipients), in one query: one
    pass over their listed items, unseen and unread as filters of it (three queries, one per partial
    index, took 61 ms for 1,000 recipients on PostgreSQL against 15 ms for this)."""
    counts = {customer_id: dict.fromkeys(COUNTED, 0) for customer_id in customer_ids}
    if counts:
        rows = (
            listed_items(product_space=product_space, customer_ids=list(counts))
            .order_by()
            .values_list("customer_id")
            .annotate(unseen=Count("pk", filter=UNSEEN), unread=Count("pk", filter=UNREAD), total=Count("pk"))
        )
        for customer_id, *numbers in rows:
            counts[customer_id] = dict(zip(COUNTED, numbers, strict=True))
    return counts


def _sequence_of(product_space: ProductSpace | int):
    return MessageSequence.objects.filter(product_space=product_space).values_list("last_value", flat=True)


def message_sequence_current(*, product_space: ProductSpace) -> int:
    """The number of the product space's latest committed numbered send (0 before the first)."""
    return _sequence_of(product_space).first() or 0


def inbox_items_after(
    *, product_space: ProductSpace, customer_id: str, after: int, limit: int
) -> list[InboxItem] | None:
    """The customer's inbox items of sends numbered above ``after``, in number order, at most ``limit``;
    None when send ``after`` is gone (deleted), so what followed it cannot be told.

    Bounded by an id, so that the customer index answers it however large the inbox: a send numbered
    above ``after`` took its number once send ``after`` had committed (the number's row lock), and only
    then wrote its rows, whose ids are therefore above every id send ``after`` wrote."""
    floor = 0
    if after > 0:
        message_id = (
            InAppMessage.objects.filter(product_space=product_space, sequence=after)
            .values_list("id", flat=True)
            .first()
        )
        if message_id is None:
            return None
        # Any of its rows will do (every later send's ids are above all of them); .first() would sort
        # all of the send's rows (up to 1,000) by id for each recovering socket.
        floor = next(
            iter(InboxItem.objects.filter(message_id=message_id).order_by().values_list("id", flat=True)[:1]), 0
        )
    return list(
        InboxItem.objects.filter(
            product_space=product_space, customer_id=customer_id, id__gt=floor, message__sequence__gt=after
        )
        .select_related("message")
        .order_by("message__sequence")[:limit]
    )


def inbox_unread_count(*, product_space: ProductSpace, customer_id: str) -> int:
    return unread_items(product_space=product_space, customer_ids=[customer_id]).count()


# --- preferences --------------------------------------------------------------------------------
PreferenceMap = dict[str, dict[str, bool]]  # {category or "*": {channel: enabled}}


def _as_map(rows: Iterable[CustomerPreference | PreferenceDefault]) -> PreferenceMap:
    result: PreferenceMap = {}
    for row in rows:
        result.setdefault(row.category, {})[row.channel] = row.enabled
    return result


def preference_enabled(
    *,
    own: PreferenceMap,
    defaults: PreferenceMap,
    category: str,
    channel: str,
    space_defaults: PreferenceMap | None = None,
    critical: Collection[str] = (),
) -> bool:
    """Whether a customer gets ``category`` on ``channel``. The one rule, first match wins: the
    customer's choice for the category, their choice for all categories ("*") -- both skipped for a
    critical category, which customers cannot mute --, the product space's default for the category,
    its default for "*", the workspace's default for the category, the workspace's for "*", else on."""
    space = space_defaults or {}
    layers = [space.get(category), space.get(ANY_CATEGORY), defaults.get(category), defaults.get(ANY_CATEGORY)]
    if category not in critical:
        layers[:0] = [own.get(category), own.get(ANY_CATEGORY)]
    for layer in layers:
        if layer and channel in layer:
            return layer[channel]
    return True


@dataclass(frozen=True)
class CustomerPreferences:
    own: PreferenceMap  # what the customer chose (sparse)
    defaults: PreferenceMap  # the defaults that apply, the product space's over the workspace's (sparse)
    workspace_defaults: PreferenceMap
    space_defaults: PreferenceMap
    critical: list[str]  # categories the customer cannot mute

    def effective(self) -> PreferenceMap:
        """Every channel of "*" and of every category that the customer, a default or a critical
        category mentions."""
        categories = sorted({ANY_CATEGORY, *self.own, *self.defaults, *self.critical})
        return {
            category: {
                channel: preference_enabled(
                    own=self.own,
                    defaults=self.workspace_defaults,
                    space_defaults=self.space_defaults,
                    critical=self.critical,
                    category=category,
                    channel=channel,
                )
                for channel in CHANNELS
            }
            for category in categories
        }


def _default_layers(
    *, product_space: ProductSpace, categories: Collection[str] | None = None, channel: str | None = None
) -> tuple[PreferenceMap, PreferenceMap]:
    """(the product space's defaults, the workspace's), in one query."""
    rows = PreferenceDefault.for_product_space(product_space)
    if categories is not None:
        rows = rows.filter(category__in=list(categories))
    if channel is not None:
        rows = rows.filter(channel=channel)
    found = list(rows)
    return (
        _as_map(r for r in found if r.product_space_id is not None),
        _as_map(r for r in found if r.product_space_id is None),
    )


def critical_categories(*, product_space: ProductSpace, categories: Collection[str] | None = None) -> list[str]:
    """The categories customers of ``product_space`` cannot mute (its own and its workspace's)."""
    rows = CriticalCategory.for_product_space(product_space)
    if categories is not None:
        rows = rows.filter(category__in=list(categories))
    return sorted(set(rows.values_list("category", flat=True)))


def customer_preferences_get(*, product_space: ProductSpace, customer_id: str) -> CustomerPreferences:
    own = CustomerPreference.objects.filter(product_space=product_space, customer_id=customer_id)
    space_defaults, workspace_defaults = _default_layers(product_space=product_space)
    merged: PreferenceMap = {category: dict(channels) for category, channels in workspace_defaults.items()}
    for category, channels in space_defaults.items():
        merged.setdefault(category, {}).update(channels)
    return CustomerPreferences(
        own=_as_map(own),
        defaults=merged,
        workspace_defaults=workspace_defaults,
        space_defaults=space_defaults,
        critical=critical_categories(product_space=product_space),
    )


def customers_suppressed(
    *, product_space: ProductSpace, customer_ids: Collection[str], category: str, channel: str
) -> set[str]:
    """Which of ``customer_ids`` must not get a ``category`` message on ``channel``: those who opted
    out (preferences, see ``preference_enabled``) or switched the channel off in their communication
    settings. Four queries, whatever the number of customers."""
    categories = [category, ANY_CATEGORY]
    space_defaults, workspace_defaults = _default_layers(
        product_space=product_space, categories=categories, channel=channel
    )
    critical = critical_categories(product_space=product_space, categories=[category])
    own_by_customer: dict[str, list[CustomerPreference]] = {}
    if not critical:  # a critical category ignores what customers chose
        for row in CustomerPreference.objects.filter(
            product_space=product_space, customer_id__in=customer_ids, channel=channel, category__in=categories
        ):
            own_by_customer.setdefault(row.customer_id, []).append(row)
    switched_off = set(
        CommunicationSettings.objects.filter(
            product_space=product_space, customer_id__in=customer_ids, **{f"{channel}_enabled": False}
        ).values_list("customer_id", flat=True)
    )
    return {
        customer_id
        for customer_id in customer_ids
        if customer_id in switched_off
        or not preference_enabled(
            own=_as_map(own_by_customer.get(customer_id, ())),
            defaults=workspace_defaults,
            space_defaults=space_defaults,
            critical=critical,
            category=category,
            channel=channel,
        )
    }


# --- communication settings ---------------------------------------------------------------------
def communication_settings_get(*, product_space: ProductSpace, customer_id: str) -> CommunicationSettings:
    """The customer's settings; the defaults (unsaved) when they never set any."""
    found = CommunicationSettings.objects.filter(product_space=product_space, customer_id=customer_id).first()
    return found or CommunicationSettings(product_space=product_space, customer_id=customer_id)
