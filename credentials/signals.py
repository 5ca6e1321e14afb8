"""Signals other apps listen to (live delivery disconnects sockets when a signing key is revoked)."""

from django.dispatch import Signal

# Sent after the revocation commits, with ``key`` (a CustomerSigningKey).
signing_key_revoked = Signal()
