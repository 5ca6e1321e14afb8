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

Checkpoints in the background (``OPTIONS["checkpoint"] = {"interval": seconds}``): in WAL mode SQLite
copies the log back into the database file (a checkpoint) inside the commit that takes the log past
``wal_autocheckpoint`` pages (1,000 by default), so that one request paid for everyone's writes: the
copy and two fsyncs. A 1,000-recipient send writes ~2,000 pages to four customer-led inbox indexes
once the inbox holds a few sends per customer, so every such commit checkpointed, and took 20-65 ms
instead of 5-10 (the bench's send API row). With the option, the connections this backend opens
never checkpoint (``wal_autocheckpoint=0``) and one daemon thread per process and database file runs
``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds on a connection of its own: PASSIVE
waits for no reader or writer, copies what no reader still needs, and runs outside the GIL. The log
then restarts from its beginning at the next write, as it does after an automatic checkpoint.
Durability is unchanged (``synchronous`` stays FULL: a commit's log is on disk before it returns).
A process that never opens a connection through this backend (e.g. Django's own backend with
DATABASE_POOL=0) checkpoints as SQLite does by default.

Relies on: ``django.db.backends.sqlite3.base.DatabaseWrapper.get_new_connection`` and ``_close``,
``in_atomic_block``. Breaks visibly in: tests/foundation/test_sqlite_pool.py (reuse, rollback before
reuse, per-file pools, background checkpoints) if an upgrade changes how Django opens or closes
connections.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass, fields

from django.db.backends.sqlite3 import base

logger = logging.getLogger(__name__)

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


@dataclass
class CheckpointStats:
    """One background checkpointer's counters (tests read them; see ``checkpointer_stats``)."""

    runs: int = 0  # PRAGMA wal_checkpoint(PASSIVE) calls
    frames: int = 0  # log frames copied into the database file
    busy: int = 0  # calls that found another checkpoint running (they copy nothing)
    errors: int = 0  # calls that failed (logged)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _Checkpointer:
    """A daemon thread checkpointing one database file every ``interval`` seconds, on its own
    connection, until ``stop``."""

    def __init__(self, database: str, interval: float) -> None:
        self.database = database
        self.interval = interval
        self.stats = CheckpointStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        inode = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    # The file may be removed (a test database destroyed) and made afresh under the
                    # same name: checkpoint the one that is there now, if any.
                    current = os.stat(self.database).st_ino
                except FileNotFoundError:
                    continue
                try:
                    if conn is None or current != inode:
                        if conn is not None:
                            conn.close()
                        conn, inode = sqlite3.connect(self.database, timeout=0, check_same_thread=False), current
                    busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except (OSError, sqlite3.Error):
                    self.stats.errors += 1
                    logger.warning("A background checkpoint of %s failed.", self.database, exc_info=True)
                    continue
                self.stats.runs += 1
                if busy:
                    self.stats.busy += 1
                elif copied > 0:
                    self.stats.frames += copied
        finally:
            if conn is not None:
                conn.close()


_checkpointers: dict[tuple[int, str], _Checkpointer] = {}


def _ensure_checkpointer(database: str, interval: float) -> None:
    key = (os.getpid(), database)  # after a fork the parent's thread stays behind: start our own
    with _lock:
        if key not in _checkpointers:
            _checkpointers[key] = _Checkpointer(database, interval)


def checkpointer_stats(database: str) -> CheckpointStats | None:
    """The counters of this process's background checkpointer of ``database``, if it has one."""
    with _lock:
        checkpointer = _checkpointers.get((os.getpid(), str(database)))
    return checkpointer.stats if checkpointer else None


def stop_checkpointers() -> None:
    """Stop this process's background checkpointers (tests; before a database file goes away)."""
    with _lock:
        running = list(_checkpointers.values())
        _checkpointers.clear()
    for checkpointer in running:
        checkpointer.stop()


class DatabaseWrapper(base.DatabaseWrapper):
    pool_max_size = 0
    checkpoint_interval = 0.0
    _pool_key: str | None = None

    def get_connection_params(self):
        params = super().get_connection_params()
        # Not sqlite3.connect() arguments: ours, like the PostgreSQL backend's OPTIONS["pool"].
        pool = params.pop("pool", None) or {}
        checkpoint = params.pop("checkpoint", None) or {}
        in_memory = self.is_in_memory_db()
        self.pool_max_size = 0 if in_memory else max(0, int(pool.get("max_size", 0)))
        self.checkpoint_interval = 0.0 if in_memory else max(0.0, float(checkpoint.get("interval", 0)))
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
        conn = super().get_new_connection(conn_params)
        if self.checkpoint_interval and conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's work, not a request's
            _ensure_checkpointer(key, self.checkpoint_interval)
        return conn

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
