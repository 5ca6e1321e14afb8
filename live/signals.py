"""Receivers of other apps' signals."""

from __future__ import annotations

from django.dispatch import receiver

from credentials.signals import signing_key_revoked
from live.fanout import end_signing_key_sessions


@receiver(signing_key_revoked, dispatch_uid="live.end_sessions_of_revoked_signing_key")
def end_sessions_of_revoked_signing_key(sender, key, **kwargs) -> None:
    # Sent after the revocation commits; through the channel layer it reaches every server process.
    # Processes the layer cannot reach (in-memory layer, Redis down) catch up through the key recheck
    # in live/socketio_sessions.py.
    end_signing_key_sessions(key.kid)
