"""A process-wide cache of rows that never change once written.

A customer token named its product space, and looking it up was a second query on every customer
request (7-14% of one in the bench's profile). Product spaces are only ever added (no service or
admin page changes or deletes one), so a row once found stays true: it is kept in process. A miss is
never kept, since the row may be created later. Each call builds its own instance from the kept
values, so nothing cached on one request's object leaks into another's.

Relies on: ``Model.from_db(db, field_names, values)`` (what Django's ModelIterable calls) and
``_meta.concrete_fields`` order. Breaks visibly in: tests/tokens/test_auth_hot_path.py (the cached
product space equals the ORM's) if an upgrade changes how instances are built from rows.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


class ImmutableRowCache(Generic[M]):
    def __init__(self, model: type[M], *, max_size: int = 4096) -> None:
        self.model = model
        self.max_size = max_size
        self.fields = tuple(field.attname for field in model._meta.concrete_fields)  # from_db's order
        self._rows: dict[tuple, tuple] = {}

    def get(self, **lookup) -> M | None:
        """The one row matching ``lookup`` (exact values of unique columns), or None."""
        key = tuple(sorted(lookup.items()))
        values = self._rows.get(key)
        if values is None:
            values = self.model._default_manager.filter(**lookup).order_by().values_list(*self.fields).first()
            if values is None:
                return None
            if len(self._rows) >= self.max_size:
                self._rows.clear()
            self._rows[key] = values
        return self.model.from_db(self.model._default_manager.db, self.fields, values)

    def clear(self) -> None:
        self._rows.clear()
