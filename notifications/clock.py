"""The inbox clock: one thread per server process that does what is due at a time, not at a request.

Each tick (INBOX_CLOCK_MS, 250 ms) it wakes the snoozed items whose time has come and takes expired
items out (services.inbox_snoozes_wake / inbox_items_expire), and every INBOX_PURGE_INTERVAL_SECONDS
it purges what is past retention (services.inbox_purge). Nothing for an operator to schedule: every
server process runs it, and what each tick does is claimed row by row (locked, skipping rows another
process holds, updated only while still due), so with several processes each item still wakes, and
is announced, exactly once. A snooze therefore wakes within a tick of its time while any server runs.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import connections

from authplatform.conf import platform_settings
from authplatform.errors import DEPENDENCY_DOWN

logger = logging.getLogger(__name__)


class InboxClock:
    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._last_purge = time.monotonic()  # a process starting does not purge at once

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="inbox-clock", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        down = False
        while True:
            time.sleep(platform_settings.INBOX_CLOCK_MS / 1000)
            try:
                self.tick()
            except DEPENDENCY_DOWN as exc:
                # The requests of this process answer 503 meanwhile; one line per outage, not one per tick.
                if not down:
                    logger.warning(
                        "The inbox clock cannot reach the database (%s); it keeps trying.", type(exc).__name__
                    )
                down = True
            except Exception:
                logger.exception("The inbox clock's tick failed; the next one tries again.")
            else:
                if down:
                    logger.warning("The inbox clock reaches the database again.")
                down = False
            finally:
                connections.close_all()  # back to the pool between ticks

    def tick(self) -> None:
        from notifications import services

        while services.inbox_snoozes_wake() >= services.CLOCK_BATCH:  # a backlog (the server was down): all now
            pass
        while services.inbox_items_expire() >= services.CLOCK_BATCH:
            pass
        interval = platform_settings.INBOX_PURGE_INTERVAL_SECONDS
        if interval and time.monotonic() - self._last_purge >= interval:
            self._last_purge = time.monotonic()
            purged = services.inbox_purge()
            logger.info("Inbox purge: %s.", purged)


inbox_clock = InboxClock()
