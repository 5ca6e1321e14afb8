"""Many rows of one table that differ in one column, inserted with one ``executemany``.

``bulk_create`` builds and prepares a model instance per row: for a 1,000-recipient send that was
~105 ms (the bench's fan-out profile; 8 INSERTs under SQLite's variable limit), though the rows
differed only in the customer id. Here the shared values are prepared once by the model's own fields
(``get_db_prep_save``, as the ORM does) and the table and column names come from the model, so the
statement follows the schema; columns not named take their database defaults.

Relies on: ``Field.get_db_prep_save``, ``connection.ops.quote_name`` and the DB-API ``executemany``
of the backend's cursor. Breaks visibly in: tests/notifications/test_api_send.py (the stored inbox
rows) if an upgrade changes how a field's value is prepared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models, transaction


def rows_insert(*, model: type[models.Model], shared: Mapping[str, Any], varying: str, values: Iterable[Any]) -> None:
    """INSERT one row per value of ``values`` in field ``varying``; every row has the ``shared``
    field values (by field name)."""
    values = list(values)
    if not values:
        return
    connection = transaction.get_connection(model._default_manager.db)
    meta: Any = model._meta  # concrete fields only here (get_field's union includes relations)
    prepared = [meta.get_field(name).get_db_prep_save(value, connection) for name, value in shared.items()]
    columns = [meta.get_field(name).column for name in (*shared, varying)]
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(meta.db_table), ", ".join(map(quote, columns)), ", ".join(["%s"] * len(columns))
    )
    varying_field = meta.get_field(varying)
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*prepared, varying_field.get_db_prep_save(value, connection)) for value in values])
