"""Throttling failed authentication per client IP.

Only failures are counted, and only a caller whose credentials are refused is answered 429: the
cache is never touched on the success path, so callers with good credentials are never slowed,
even behind the same address as someone guessing. Counters live in Django's cache (Redis when
``REDIS_URL`` is set, so every server process shares them; local memory otherwise) in fixed windows
of AUTH_FAILURE_WINDOW seconds; more than AUTH_FAILURE_BURST failures in one window turn further
failures from that address into 429 with ``Retry-After`` until the window ends (the counter itself:
authplatform/throttle.py).
"""

from __future__ import annotations

from authplatform.client_ip import IPAddress
from authplatform.conf import platform_settings
from authplatform.throttle import window_count_add

KEY_PREFIX = "auth-failures"


def auth_failure_register(ip: IPAddress | None, *, now: float | None = None) -> int | None:
    """Count one failed authentication from ``ip``.

    Returns the seconds to wait when the address is over its burst, else None. Never raises: if the
    cache is down the failure is not counted (authentication itself must keep working).
    """
    counted = window_count_add(KEY_PREFIX, str(ip or "unknown"), window=platform_settings.AUTH_FAILURE_WINDOW, now=now)
    if counted is None or counted.count <= int(platform_settings.AUTH_FAILURE_BURST):
        return None
    return counted.retry_after
