"""A queryset whose SQL is built once per database, for the lookups that run on every request.

py-spy and cProfile of every credential kind (`python -m bench --profile`) show that Django spends ~90% of an
authentication building and compiling its one query (filter(), select_related, WHERE and SELECT
compilation, per-column converters), and ~5% running it. A ``PreparedQuery`` builds the queryset once
with sample values, keeps the compiled SQL, the parameter positions of each value and the row-to-model
machinery, and on each call only binds the new values and runs that same SQL. It is still a query per
call, so revocation, expiry and deactivation are decided by the database on every request exactly as
before; only the Python that writes the SQL is skipped.

Instances are built as Django's ModelIterable builds them (``from_db`` and the select_related
populators), so callers get the same objects as from the queryset; a ``values_list`` queryset (e.g.
counts as subquery annotations) gives its rows as tuples (``rows``), through the same converters.
Each value is adapted with the model field it is compared to (``get_db_prep_value``), as the ORM's
lookups do.

Relies on: ``SQLCompiler.as_sql``, ``klass_info``/``select``, ``get_converters``/``apply_converters``,
``get_related_populators`` and ``Model.from_db``. Breaks visibly in: tests/tokens/test_auth_hot_path.py
(``test_prepared_lookups_give_what_the_orm_gives``) if an upgrade changes any of them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, QuerySet
from django.db.models.query import ModelIterable, get_related_populators  # type: ignore[attr-defined]

# Sample values for ``PreparedQuery`` (each must appear nowhere else in its query): a time, a UUID and a
# text no stored row or literal has.
SAMPLE_NOW = datetime(1999, 12, 31, 23, 59, 58, 123457, tzinfo=UTC)
SAMPLE_UUID = uuid.UUID("5a3b1e00-0000-4000-8000-00000000a11e")
SAMPLE_TEXT = "\x00prepared-sample"


class _Compiled:
    def __init__(self, queryset: QuerySet, samples: dict[str, Any], fields: dict[str, Field], connection) -> None:
        self.compiler = queryset.query.get_compiler(using=queryset.db)
        self.sql, params = self.compiler.as_sql()  # also fills compiler.select and klass_info
        self.params = list(params)
        self.positions: dict[str, list[int]] = {}
        for name, sample in samples.items():
            adapted = fields[name].get_db_prep_value(sample, connection, prepared=False)
            self.positions[name] = [i for i, param in enumerate(self.params) if param == adapted]
            if not self.positions[name]:
                raise ValueError(f"PreparedQuery: the sample value of {name!r} is not a parameter of its query")
        taken = [i for positions in self.positions.values() for i in positions]
        if len(taken) != len(set(taken)):
            raise ValueError("PreparedQuery: two sample values compile to the same parameter; use distinct ones")
        compiler = self.compiler
        klass_info, select = compiler.klass_info, compiler.select
        if queryset._iterable_class is not ModelIterable:  # values_list(): tuples, annotations included
            self.model = None
            self.converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
            return
        self.model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.model_slice = slice(start, end)
        self.init_list = [column[0].target.attname for column in select[start:end]]
        self.related_populators = get_related_populators(klass_info, select, queryset.db)
        self.converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
        if compiler.annotation_col_map:
            raise ValueError("PreparedQuery does not handle annotations")


class PreparedQuery:
    """``build(**values)`` -> queryset, compiled once per database alias and engine.

    ``samples`` gives each value a sample of its type that appears nowhere else in the query (it
    marks the value's parameter positions); ``fields`` names the model field each value is compared to.
    """

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *,
        samples: dict[str, Any],
        fields: dict[str, Field],
        using: str = DEFAULT_DB_ALIAS,
    ) -> None:
        self._build = build
        self._using = using
        self._samples = samples
        self._fields = fields
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _get(self, queryset_db: str) -> tuple[_Compiled, Any]:
        connection = connections[queryset_db]
        key = (queryset_db, connection.settings_dict["ENGINE"])
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    queryset = self._build(**self._samples).using(queryset_db)
                    compiled = _Compiled(queryset, self._samples, self._fields, connection)
                    self._compiled[key] = compiled
        return compiled, connection

    def _run(self, values: dict[str, Any]) -> tuple[_Compiled, list]:
        compiled, connection = self._get(self._using)
        params = list(compiled.params)
        for name, value in values.items():
            adapted = self._fields[name].get_db_prep_value(value, connection, prepared=False)
            for i in compiled.positions[name]:
                params[i] = adapted
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        return compiled, rows

    def rows(self, **values) -> list[tuple]:
        """The rows of a ``values_list`` queryset ``build(**values)``, as tuples."""
        compiled, rows = self._run(values)
        if compiled.model is not None:
            raise TypeError("PreparedQuery.rows is for values_list querysets; use all()")
        return [tuple(row) for row in rows]

    def all(self, **values) -> list:
        """The model instances the queryset ``build(**values)`` would give, in its order."""
        db = self._using
        compiled, rows = self._run(values)
        if compiled.model is None:
            raise TypeError("PreparedQuery.all is for model querysets; use rows()")
        out = []
        for row in rows:
            obj = compiled.model.from_db(db, compiled.init_list, row[compiled.model_slice])
            for populator in compiled.related_populators:
                populator.populate(row, obj)
            out.append(obj)
        return out

    def first(self, **values):
        """The only row of a lookup by a unique column, or None."""
        rows = self.all(**values)
        return rows[0] if rows else None
