"""SQL statements a bench server runs, counted in process: ``GET /bench/queries`` reads them.

Installed only in servers started with ``BENCH_COUNT_QUERIES=1`` (bench/settings.py adds this app),
so no other row pays for it. Every statement any thread sends through a Django connection is counted
(``connection.execute_wrappers``, Django's documented hook; ``executemany`` counts once), keyed by its
SQL text without parameters, so the driver can say which statements a phase ran and how many times.
DEBUG's ``connection.queries`` would count the same, but DEBUG changes what is timed.

Why not the database's own counters: the embedded default is SQLite, which keeps none, and on the
bench machine's PostgreSQL ``pg_stat_statements`` is not preloaded (the recovery row adds
``pg_stat_database`` transactions beside these counts there, as a cross-check).
"""

from __future__ import annotations

import threading
from collections import Counter

from django.apps import AppConfig
from django.db.backends.signals import connection_created

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def _count(execute, sql, params, many, context):
    with _lock:
        _counts[sql] += 1
    return execute(sql, params, many, context)


def _install(sender, connection, **kwargs) -> None:
    # The signal comes on every new (or pooled, reused) DB-API connection of a wrapper: add the hook once.
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)


class QueryCountConfig(AppConfig):
    name = "bench"
    label = "bench_querycount"
    verbose_name = "bench: SQL statement counts"

    def ready(self) -> None:
        connection_created.connect(_install, dispatch_uid="bench.querycount")
