"""What text a database column can hold: the one rule every presented value is checked against
before it reaches a query.

PostgreSQL refuses a NUL character in text and JSON (a ``DataError``, which would be a 500), and a
lone surrogate (``"\\ud800"``, possible in JSON and JWT claims) cannot be encoded as UTF-8 by any
driver. SQLite stores both, so without this check the two backends would answer the same request
differently.
"""

from __future__ import annotations


def is_storable_text(value: object) -> bool:
    """``value`` is a str that every supported database can store and compare. Never raises."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
