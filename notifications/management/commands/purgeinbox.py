"""Delete inbox items past INBOX_RETENTION_DAYS, the messages they leave without items, and expired
Idempotency-Key records, in small batches (notifications.services.inbox_purge).

Every server process already runs it once per INBOX_PURGE_INTERVAL_SECONDS (notifications/clock.py);
run it by hand, or from cron, where the purge is turned off there (INBOX_PURGE_INTERVAL_SECONDS=0).
"""

import json

from django.core.management.base import BaseCommand

from notifications.services import inbox_purge


class Command(BaseCommand):
    help = "Purge inbox items past retention and expired idempotency records, in batches."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per statement and transaction.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a summary.")

    def handle(self, *args, batch_size: int, **options) -> None:
        result = inbox_purge(batch_size=max(1, batch_size))
        counts = {"items": result.items, "messages": result.messages, "idempotency_records": result.idempotency_records}
        if options["json"]:
            self.stdout.write(json.dumps(counts))
        else:
            self.stdout.write(
                f"Purged {result.items} inbox items, {result.messages} messages, "
                f"{result.idempotency_records} idempotency records."
            )
