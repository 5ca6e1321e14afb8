"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class WithoutTraceback(logging.Filter):
    """Keep the record's one-line message, drop its traceback.

    Django logs every request for a host not in ALLOWED_HOSTS on ``django.security.DisallowedHost``
    at ERROR with the exception attached: a scanner sending a wrong ``Host`` would write a full
    traceback per request. The request is the client's mistake, answered with a 400; one line says
    all an operator needs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
