"""SQLite with its open connections kept for reuse, per process: the embedded default's pool.

Why: under ASGI Django runs every request (and every ``database_sync_to_async`` call) in a context,
and a thread, of its own, so with CONN_MAX_AGE=0 each one opened a new SQLite connection, and a new
connection parses the whole schema before its first query: about 0.5 ms of a 5-7 ms request on the
2-core bench machine, i.e. most of what authenticating with one indexed lookup cost (the bench's
profile). Django pools PostgreSQL connections (``OPTIONS["pool"]``, psycopg_pool) but not SQLite;
this backend reads the same option, ``{"max_size": n}``, and keeps up to n idle connections.

Rules, so nothing leaks from one user of a connection to the next:
- a connection goes back only outside ``atomic()``, and is rolled back first if the driver still has
  a transaction open; anything unexpected closes it for real;
- idle connections are kept per database file (the test database never gets the development one's);
- in-memory databases are never pooled (Django never closes them anyway).
Python's sqlite3 lets a connection move between threads because Django opens it with
check_same_thread=False; the pool hands it to one thread at a time.

Relies on: ``django.db.backends.sqlite3.base.DatabaseWrapper.get_new_connection`` and ``_close``,
``in_atomic_block``. Breaks visibly in: tests/foundation/test_sqlite_pool.py (reuse, rollback before
reuse, per-file pools) if an upgrade changes how Django opens or closes connections.
"""

from __future__ import annotations

import sqlite3
import threading

from django.db.backends.sqlite3 import base

_lock = threading.Lock()
_idle: dict[str, list[sqlite3.Connection]] = {}


def idle_connections(database: str) -> int:
    """How many connections to ``database`` wait in this process's pool (for tests and checks)."""
    with _lock:
        return len(_idle.get(str(database), ()))


def close_idle_connections() -> None:
    """Close every idle pooled connection of this process, e.g. before its database file goes away."""
    with _lock:
        connections = [conn for pool in _idle.values() for conn in pool]
        _idle.clear()
    for conn in connections:
        conn.close()


class DatabaseWrapper(base.DatabaseWrapper):
    pool_max_size = 0
    _pool_key: str | None = None

    def get_connection_params(self):
        params = super().get_connection_params()
        # Not a sqlite3.connect() argument: ours, like the PostgreSQL backend's OPTIONS["pool"].
        pool = params.pop("pool", None) or {}
        self.pool_max_size = 0 if self.is_in_memory_db() else max(0, int(pool.get("max_size", 0)))
        return params

    def get_new_connection(self, conn_params):
        key = str(conn_params["database"])
        self._pool_key = key if self.pool_max_size else None
        if self._pool_key:
            with _lock:
                pool = _idle.get(key)
                conn = pool.pop() if pool else None
            if conn is not None:
                return conn  # connect() then sets autocommit as for a new one
        return super().get_new_connection(conn_params)

    def _close(self):
        conn, key = self.connection, self._pool_key
        if key is None or self.in_atomic_block:
            return super()._close()
        try:
            if conn.in_transaction:
                conn.rollback()
        except sqlite3.Error:
            return super()._close()
        with _lock:
            pool = _idle.setdefault(key, [])
            if len(pool) < self.pool_max_size:
                pool.append(conn)
                return None
        return super()._close()
