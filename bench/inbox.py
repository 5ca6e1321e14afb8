"""``python -m bench.inbox clear``: delete every stored in-app message (and so every inbox row) of the
bench's database, so that each of our fan-out rows starts from the same empty inbox.

Each send adds a row per recipient to inbox indexes that lead with the customer, so the send API's
insert and commit grow with what earlier rows sent (the two-process row ran on the one-process row's
51,000 rows and looked slower for it).

``python -m bench.inbox fill CUSTOMER N``: give one customer an inbox of ``N`` items (one message
each, in the bench's one product space) for the inbox row (issue 18), and print as JSON 100 message
ids of listed items spread over the whole inbox, for the bulk action. ``bulk_create`` in batches, as
tests/notifications/test_api_query_plans.py seeds its 100,000: a few seconds, where ``N`` sends
through the API would take minutes. The state mix is that test's (about 30 % seen, 10 % read,
5 % archived, 2 % deleted), so the three counts read partial indexes of different sizes.
"""

import json
import os
import random
import sys
import uuid
from datetime import timedelta

import django

FILL_BATCH = 10_000
BULK_IDS = 100  # the bulk action's limit (INBOX_BULK_MAX_IDS)
CATEGORIES = ["billing", "news", "security", "marketing", "social"]


def clear() -> None:
    from django.db import connection

    from notifications.models import IdempotencyRecord, InAppMessage, InboxItem

    IdempotencyRecord.objects.all().delete()
    InboxItem.objects.all()._raw_delete(InboxItem.objects.db)  # one statement, not one per row
    InAppMessage.objects.all().delete()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def fill(customer_id: str, n: int) -> list[str]:
    from django.db import connection, transaction
    from django.utils import timezone

    from credentials.models import ProductSpace
    from notifications.models import InAppMessage, InboxItem

    product_space = ProductSpace.objects.get()  # bench/seed.py makes exactly one
    rng = random.Random(18)
    start = timezone.now() - timedelta(days=365)
    step = timedelta(days=364) / max(n, 1)
    listed: list[str] = []
    for offset in range(0, n, FILL_BATCH):
        messages, items = [], []
        for i in range(offset, min(n, offset + FILL_BATCH)):
            created = start + step * i
            category = CATEGORIES[i % len(CATEGORIES)]
            message = InAppMessage(
                id=uuid.uuid4(),
                workspace_id=product_space.workspace_id,
                product_space=product_space,
                title=f"Message {i}",
                body="Body",
                category=category,
                data={},
                sent_by="bench",
                recipient_count=1,
                stored_count=1,
                suppressed_count=0,
                created_at=created,
            )
            archived = rng.random() < 0.05
            deleted = rng.random() < 0.02
            messages.append(message)
            items.append(
                InboxItem(
                    message=message,
                    product_space=product_space,
                    category=category,
                    created_at=created,
                    customer_id=customer_id,
                    seen_at=created if rng.random() < 0.30 else None,
                    read_at=created if rng.random() < 0.10 else None,
                    archived_at=created if archived else None,
                    deleted_at=created if deleted else None,
                )
            )
            if not (archived or deleted):
                listed.append(str(message.id))
        with transaction.atomic():
            InAppMessage.objects.bulk_create(messages)
            InboxItem.objects.bulk_create(items)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # what autovacuum would have done after 100,000 inserts
            cursor.execute(f"ANALYZE {InAppMessage._meta.db_table}")
            cursor.execute(f"ANALYZE {InboxItem._meta.db_table}")
        else:  # no ANALYZE: the project never runs one on SQLite, so its planner works without statistics
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return rng.sample(listed, min(BULK_IDS, len(listed)))


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    if argv == ["clear"]:
        clear()
    elif len(argv) == 3 and argv[0] == "fill":
        print(json.dumps(fill(argv[1], int(argv[2]))))
    else:
        raise SystemExit("usage: python -m bench.inbox clear | fill CUSTOMER N")


if __name__ == "__main__":
    main(sys.argv[1:])
