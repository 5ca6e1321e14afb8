"""Inbox cursors: an opaque token for "the items after this one, newest first".

A cursor holds the position (inbox item id) of the last item of a page; the next page is the items
with a smaller id. New messages get larger ids, so they never shift the pages a customer is walking
through (they show up on the first page next time). Filters are not part of the cursor: the client
sends the same filters with each page.
"""

from __future__ import annotations

import base64
import binascii

CURSOR_PREFIX = "i1:"
MAX_CURSOR_LENGTH = 64


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{position}".encode()).decode().rstrip("=")


def decode_cursor(value: object) -> int:
    """The position in a cursor; ValueError for anything this module did not make."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CURSOR_LENGTH:
        raise ValueError("cursor")
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("cursor") from None
    digits = text.removeprefix(CURSOR_PREFIX)
    if digits == text or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise ValueError("cursor")
    position = int(digits)
    if position <= 0:
        raise ValueError("cursor")
    return position
