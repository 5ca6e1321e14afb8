"""``python -m bench.inbox clear``: delete every stored in-app message (and so every inbox row) of the
bench's database, so that each of our fan-out rows starts from the same empty inbox.

Each send adds a row per recipient to inbox indexes that lead with the customer, so the send API's
insert and commit grow with what earlier rows sent (the two-process row ran on the one-process row's
51,000 rows and looked slower for it)."""

import os
import sys

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.db import connection

    from notifications.models import IdempotencyRecord, InAppMessage, InboxItem

    if argv != ["clear"]:
        raise SystemExit("usage: python -m bench.inbox clear")
    IdempotencyRecord.objects.all().delete()
    InboxItem.objects.all()._raw_delete(InboxItem.objects.db)  # one statement, not one per row
    InAppMessage.objects.all().delete()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


if __name__ == "__main__":
    main(sys.argv[1:])
