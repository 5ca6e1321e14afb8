"""Fixed-window counters in Django's cache, for budgets of failed sign-ins.

A counter is named by a scope (what is counted, e.g. failed API authentication) and a key (whom it
is counted against, e.g. a client address). Windows are aligned to multiples of ``window`` seconds
since the epoch, so every server process agrees on when one ends; with ``REDIS_URL`` the counters live
in Redis and every process counts the same events (local memory, per process, otherwise).

Nothing here raises when the cache is down: the event is then not counted and nothing is over budget,
because signing in must keep working without the cache.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WindowCount:
    count: int  # events counted in the current window
    retry_after: int  # whole seconds until the window ends, at least 1
    cache_key: str  # this window's counter, for window_count_release


def _window(window: int, now: float | None) -> tuple[int, int, float]:
    window = max(1, int(window))
    now = time.time() if now is None else now
    return window, int(now // window), now


def _result(count: int, name: str, window: int, index: int, now: float) -> WindowCount:
    return WindowCount(count=count, retry_after=max(1, math.ceil((index + 1) * window - now)), cache_key=name)


def window_key(scope: str, key: str, index: int) -> str:
    return f"{scope}:{key}:{index}"


def window_count_add(scope: str, key: str, *, window: int, now: float | None = None) -> WindowCount | None:
    """Count one event against ``key`` in the current window; the count including it (None if the
    cache is unavailable)."""
    window, index, now = _window(window, now)
    name = window_key(scope, key, index)
    try:
        cache.add(name, 0, timeout=window + 1)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.add(name, 1, timeout=window + 1)
            count = 1
    except Exception:
        logger.warning("Throttle %s unavailable (cache error); not counting.", scope, exc_info=True)
        return None
    return _result(count, name, window, index, now)


def window_count_get(scope: str, key: str, *, window: int, now: float | None = None) -> WindowCount | None:
    """The events counted against ``key`` in the current window, without counting one (None if the
    cache is unavailable)."""
    window, index, now = _window(window, now)
    name = window_key(scope, key, index)
    try:
        count = cache.get(name, 0)
    except Exception:
        logger.warning("Throttle %s unavailable (cache error); not checking.", scope, exc_info=True)
        return None
    return _result(int(count), name, window, index, now)


def window_count_release(counted: WindowCount) -> None:
    """Take back one event counted by window_count_add (e.g. an attempt counted before its outcome was
    known, that turned out not to count), in the window it was counted in."""
    try:
        cache.decr(counted.cache_key)
    except ValueError:  # that window has ended: nothing to take back
        pass
    except Exception:
        logger.warning("Throttle unavailable (cache error); not releasing.", exc_info=True)


def hashed_key(value: str) -> str:
    """A fixed-size cache key for a value chosen by the client (e.g. a username): its length is not
    ours to bound, and the cache should not hold it in the clear. Keyed with SECRET_KEY, so every
    process derives the same key."""
    return salted_hmac("authplatform.throttle", value, algorithm="sha256").hexdigest()[:32]
