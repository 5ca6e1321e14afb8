"""Throttling failed authentication per client IP.

Only failures are counted, and only a caller whose credentials are refused is answered 429: the
cache is never touched on the success path, so callers with good credentials are never slowed,
even behind the same address as someone guessing. Counters live in Django's cache (Redis when
``REDIS_URL`` is set, so every server process shares them; local memory otherwise) in fixed windows
of AUTH_FAILURE_WINDOW seconds; more than AUTH_FAILURE_BURST failures in one window turn further
failures from that address into 429 with ``Retry-After`` until the window ends.
"""

from __future__ import annotations

import logging
import math
import time

from django.core.cache import cache

from authplatform.client_ip import IPAddress
from authplatform.conf import platform_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "auth-failures"


def _key(ip: IPAddress | None, window_index: int) -> str:
    return f"{KEY_PREFIX}:{ip or 'unknown'}:{window_index}"


def auth_failure_register(ip: IPAddress | None, *, now: float | None = None) -> int | None:
    """Count one failed authentication from ``ip``.

    Returns the seconds to wait when the address is over its burst, else None. Never raises: if the
    cache is down the failure is not counted (authentication itself must keep working).
    """
    window = max(1, int(platform_settings.AUTH_FAILURE_WINDOW))
    burst = int(platform_settings.AUTH_FAILURE_BURST)
    now = time.time() if now is None else now
    index = int(now // window)
    key = _key(ip, index)
    try:
        cache.add(key, 0, timeout=window + 1)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            failures = 1
    except Exception:
        logger.warning("Failed-authentication throttle unavailable (cache error); not counting.", exc_info=True)
        return None
    if failures <= burst:
        return None
    return max(1, math.ceil((index + 1) * window - now))
