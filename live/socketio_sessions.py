"""The authenticated Socket.IO sessions of this server process, and the signing-key recheck.

Revocation normally reaches sockets through the ``signing_key_revoked`` signal and the channel layer
(live/signals.py), within milliseconds on every process. That path misses revocations the layer
cannot carry to this process: a ``manage.py`` command or a second process while the layer is the
in-memory one, or any revocation while Redis is down. So each process also re-reads, every
SOCKETIO_KEY_RECHECK_MS, which of its sockets' signing keys are still active (one indexed query per
process, whatever the number of sockets) and ends the sessions of the rest. "Active" is the
credentials app's own rule (``CustomerSigningKey.objects.active``): revoked, expired and deleted keys
all end their sessions.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Protocol

from channels.db import database_sync_to_async
from django.utils import timezone

from authplatform.conf import platform_settings
from credentials.models import CustomerSigningKey
from live.fanout import SIGNING_KEY_REVOKED

logger = logging.getLogger(__name__)

QUERY_CHUNK = 500  # kids per IN (...) list
KEY_INACTIVE_MESSAGE = "The signing key of this session's token was revoked or has expired."


class LiveSession(Protocol):
    async def end_session(self, reason: str, message: str) -> None: ...


def _active_kids(kids: list[str]) -> set[str]:
    now = timezone.now()
    active: set[str] = set()
    for start in range(0, len(kids), QUERY_CHUNK):
        chunk = kids[start:start + QUERY_CHUNK]
        active.update(str(pk) for pk in
                      CustomerSigningKey.objects.active(now).filter(pk__in=chunk).values_list("pk", flat=True))
    return active


class SigningKeySessions:
    """Open sessions by signing key ``kid``, and the task that rechecks those keys."""

    def __init__(self) -> None:
        self._by_kid: dict[str, set[LiveSession]] = defaultdict(set)
        self._recheck: asyncio.Task | None = None

    def add(self, kid: str, session: LiveSession) -> None:
        self._by_kid[kid].add(session)
        interval = platform_settings.SOCKETIO_KEY_RECHECK_MS
        if interval > 0 and (self._recheck is None or self._recheck.done()):
            self._recheck = asyncio.get_running_loop().create_task(self._recheck_forever(interval / 1000))

    def discard(self, kid: str, session: LiveSession) -> None:
        sessions = self._by_kid.get(kid)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._by_kid[kid]

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_kid.values())

    async def _recheck_forever(self, interval: float) -> None:
        timeout = platform_settings.SOCKETIO_AUTH_TIMEOUT_MS / 1000
        while self._by_kid:
            await asyncio.sleep(interval)
            kids = list(self._by_kid)
            if not kids:
                break
            try:
                active = await asyncio.wait_for(database_sync_to_async(_active_kids)(kids), timeout)
            except Exception:
                logger.warning("Signing-key recheck failed; retrying in %.1fs.", interval, exc_info=True)
                continue
            for kid in kids:
                if kid in active:
                    continue
                for session in list(self._by_kid.get(kid, ())):
                    logger.info("Ending a Socket.IO session: signing key %s is no longer active.", kid)
                    try:
                        await session.end_session(SIGNING_KEY_REVOKED, KEY_INACTIVE_MESSAGE)
                    except Exception:
                        logger.exception("Ending a Socket.IO session failed.")
        self._recheck = None


signing_key_sessions = SigningKeySessions()
