"""The platform's settings object: ``platform_settings.NAME``, with defaults, like DRF's api_settings.

Every rule that has a tunable number reads it here, so a newcomer finds all the knobs in one place.
Values come from ``settings.AUTHPLATFORM`` (built from the environment in settings.py); the object is
rebuilt on ``setting_changed`` so tests can use ``override_settings(AUTHPLATFORM=...)``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Keyed digests of secrets and API keys: HMAC-SHA256 with this pepper. Fallbacks verify digests
    # made with an older pepper while it is being rotated out.
    "PEPPER": "",
    "PEPPER_FALLBACKS": [],
    # Fernet key that encrypts platform token-signing keys at rest; fallbacks decrypt old ones.
    "KEY_ENCRYPTION_KEY": "",
    "KEY_ENCRYPTION_KEY_FALLBACKS": [],
    # Peers whose X-Forwarded-For is believed (CIDRs or addresses). Empty: the socket peer is the client.
    "TRUSTED_PROXIES": [],
    # last_used_at is written at most once per this many seconds per credential.
    "LAST_USED_RESOLUTION": 60,
    # API users and keys.
    "API_KEY_MAX_ACTIVE": 5,
    # API tokens minted from an API key.
    "API_TOKEN_DEFAULT_LIFETIME": 86400,
    "API_TOKEN_MAX_LIFETIME": 365 * 86400,
    "API_TOKEN_MAX_IP_VALUES": 10,
    "API_TOKEN_MAX_IP_ADDRESSES": 10_000,
    # Customer JWTs signed by customers' own backends.
    "CUSTOMER_JWT_LEEWAY": 30,
    "CUSTOMER_JWT_MAX_BYTES": 8192,
    # Customer signing keys: smallest RSA modulus accepted.
    "SIGNING_KEY_MIN_BITS": 2048,
    # Client-secret rotation: the longest grace period an admin may give the old secret.
    "CLIENT_SECRET_MAX_GRACE_SECONDS": 30 * 86400,
    # Seconds a client is told to wait (Retry-After) when the database or Redis does not answer (503).
    "UNAVAILABLE_RETRY_AFTER": 5,
    # Failed-authentication throttle per client IP.
    "AUTH_FAILURE_BURST": 20,
    "AUTH_FAILURE_WINDOW": 60,
    # Failed admin sign-ins, per client IP and per username alike. Stricter than the API's budget:
    # a person's password has far less entropy than an API key or a signed token.
    "ADMIN_LOGIN_FAILURE_BURST": 10,
    "ADMIN_LOGIN_FAILURE_WINDOW": 15 * 60,
    # Live delivery over Socket.IO (live/socketio_*.py). Times in milliseconds, as Engine.IO states
    # them to clients.
    "SOCKETIO_PING_INTERVAL_MS": 25_000,
    "SOCKETIO_PING_TIMEOUT_MS": 20_000,
    # Largest Engine.IO frame a client may send (daphne itself refuses frames over 1 MiB).
    "SOCKETIO_MAX_PAYLOAD_BYTES": 1_000_000,
    # Time from the WebSocket handshake to an accepted Socket.IO CONNECT before the socket is closed.
    "SOCKETIO_CONNECT_TIMEOUT_MS": 45_000,
    # Checking a token (database): longer counts as failed.
    "SOCKETIO_AUTH_TIMEOUT_MS": 10_000,
    # Safety net behind the revocation signal: how often each server process re-reads whether the
    # signing keys of its open sockets are still active (one query per process; 0 turns it off).
    "SOCKETIO_KEY_RECHECK_MS": 1_000,
    # Live bus over Redis (authplatform/bus.py): connections per process (one holds the subscription, the
    # others publish and answer readiness probes; a caller waits up to the timeout for a free one, then
    # the publication counts as failed), and the timeout of a publish, a subscription or a wait.
    "LIVE_REDIS_MAX_CONNECTIONS": 8,
    "LIVE_REDIS_TIMEOUT_MS": 5_000,
    # Sockets written to (a fan-out) or ended (revocation, expiry, an outage) before yielding to the
    # event loop, so that other sockets' pings and close handshakes are served meanwhile.
    "LIVE_DELIVERY_BATCH": 500,
    # Connection state recovery (live/recovery.py): a reconnecting socket gets what it missed when all of
    # it was sent within the window (seconds; Socket.IO's default is 2 minutes, days work too: the inbox
    # holds it) and it is at most so many messages; otherwise it starts afresh (``recovered`` false).
    "LIVE_RECOVERY_WINDOW_SECONDS": 120,
    "LIVE_RECOVERY_MAX_MESSAGES": 100,
    # How long a process holds a product space's numbered send while an earlier number has not arrived
    # (authplatform/live_order.py).
    "LIVE_ORDER_HOLD_MS": 1_000,
    # In-app messages (notifications/): recipients per send, size of the free-form ``data`` object as
    # compact UTF-8 JSON, how long an Idempotency-Key answers with the first result, inbox page sizes.
    "REALTIME_MAX_RECIPIENTS": 1000,
    "REALTIME_DATA_MAX_BYTES": 8192,
    "REALTIME_DATA_MAX_DEPTH": 16,
    "REALTIME_IDEMPOTENCY_TTL": 24 * 3600,
    "REALTIME_INBOX_PAGE_SIZE": 20,
    "REALTIME_INBOX_MAX_PAGE_SIZE": 100,
    # Categories a customer may hold preferences for (a bound on what one customer can store).
    "REALTIME_MAX_PREFERENCE_CATEGORIES": 100,
    # The inbox clock (notifications/clock.py), in every server process: how often it wakes due snoozes
    # and takes expired items out, and how often it purges what is past INBOX_RETENTION_DAYS (and
    # idempotency records past their time); 0 turns the purge off (then run `manage.py purgeinbox`).
    "INBOX_CLOCK_MS": 250,
    "INBOX_RETENTION_DAYS": 365,
    "INBOX_PURGE_INTERVAL_SECONDS": 3600,
}


class PlatformSettings:
    def __init__(self, user_settings: dict[str, Any] | None = None) -> None:
        self._user_settings = user_settings
        self._cached: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        if self._user_settings is None:
            self._user_settings = getattr(settings, "AUTHPLATFORM", {})
        return self._user_settings

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown platform setting {name!r}")
        if name not in self._cached:
            self._cached[name] = self.user_settings.get(name, DEFAULTS[name])
        return self._cached[name]

    def reload(self) -> None:
        self._user_settings = None
        self._cached = {}


platform_settings = PlatformSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "AUTHPLATFORM":
        platform_settings.reload()


setting_changed.connect(_reload)
