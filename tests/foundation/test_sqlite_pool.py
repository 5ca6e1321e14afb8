"""The embedded database's connection pool (authplatform/fastpaths/sqlite3/base.py).

Each test drives its own wrappers on a file of its own, so the suite's database is not involved and
the tests run on either CI pass.
"""

import os
import sqlite3
import threading
import time

import pytest

from authplatform.fastpaths.sqlite3.base import (
    DatabaseWrapper,
    checkpointer_stats,
    close_idle_connections,
    idle_connections,
    stop_checkpointers,
)


@pytest.fixture(autouse=True)
def _own_files_only(django_db_blocker):
    # pytest-django guards the suite's database; these wrappers open files of their own.
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / "pool.sqlite3")
    first = wrapper(path)
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE item (name TEXT)")
    first.close()
    yield path
    close_idle_connections()


def wrapper(
    path: str, *, max_size: int = 2, alias: str = "pool_test", checkpoint: float | None = None
) -> DatabaseWrapper:
    options: dict = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL",
        "pool": {"max_size": max_size},
    }
    if checkpoint is not None:
        options["checkpoint"] = {"interval": checkpoint}
    return DatabaseWrapper(
        {
            "ENGINE": "authplatform.fastpaths.sqlite3",
            "NAME": path,
            "USER": "",
            "PASSWORD": "",
            "HOST": "",
            "PORT": "",
            "ATOMIC_REQUESTS": False,
            "AUTOCOMMIT": True,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "TIME_ZONE": None,
            "TEST": {},
            "OPTIONS": options,
        },
        alias,
    )


def raw(w: DatabaseWrapper) -> sqlite3.Connection:
    w.ensure_connection()
    return w.connection


def names(w: DatabaseWrapper) -> list[str]:
    with w.cursor() as cursor:
        cursor.execute("SELECT name FROM item ORDER BY name")
        return [row[0] for row in cursor.fetchall()]


def test_a_closed_connection_is_reused_by_the_next_request(database):
    w = wrapper(database)
    conn = raw(w)
    w.close()
    assert idle_connections(database) == 1
    assert raw(wrapper(database)) is conn
    assert idle_connections(database) == 0


def test_write_ahead_log_is_on_and_commits_are_seen_by_pooled_connections(database):
    writer, reader = wrapper(database), wrapper(database)
    assert names(reader) == []
    reader.close()  # pooled, holding no snapshot
    with writer.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("INSERT INTO item VALUES ('revoked')")
    assert names(wrapper(database)) == ["revoked"]


def test_an_open_transaction_is_rolled_back_before_the_connection_goes_back(database):
    w = wrapper(database)
    conn = raw(w)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO item VALUES ('uncommitted')")
    w.close()
    again = wrapper(database)
    assert raw(again) is conn and not conn.in_transaction
    assert names(again) == []


def test_a_connection_closed_inside_atomic_is_really_closed(database):
    w = wrapper(database)
    conn = raw(w)
    w.in_atomic_block = True  # what transaction.atomic() sets; closing there is an error path
    w.close()
    assert idle_connections(database) == 0
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_at_most_max_size_connections_wait(database):
    wrappers = [wrapper(database, max_size=2) for _ in range(3)]
    conns = [raw(w) for w in wrappers]
    for w in wrappers:
        w.close()
    assert idle_connections(database) == 2
    with pytest.raises(sqlite3.ProgrammingError):
        conns[2].execute("SELECT 1")  # the third found the pool full and was closed


def test_each_database_file_has_its_own_pool(database, tmp_path):
    other = str(tmp_path / "other.sqlite3")
    w = wrapper(database)
    conn = raw(w)
    w.close()
    elsewhere = wrapper(other)
    assert raw(elsewhere) is not conn
    elsewhere.close()
    assert idle_connections(database) == 1 and idle_connections(other) == 1


def test_in_memory_databases_are_not_pooled():
    w = wrapper(":memory:")
    raw(w)
    assert w.pool_max_size == 0


def test_a_connection_opened_on_one_thread_serves_another(database):
    """Under ASGI each request runs on a thread of its own: the pool is only useful across threads."""
    opened: list[sqlite3.Connection] = []

    def request(name: str) -> None:
        w = wrapper(database)
        opened.append(raw(w))
        with w.cursor() as cursor:
            cursor.execute("INSERT INTO item VALUES (%s)", [name])
        w.close()

    for name in ("first", "second"):
        thread = threading.Thread(target=request, args=(name,))
        thread.start()
        thread.join()
    assert opened[0] is opened[1]
    assert names(wrapper(database)) == ["first", "second"]


# --- background checkpoints ----------------------------------------------------------------------
def write_pages(w: DatabaseWrapper, pages: int) -> None:
    """One transaction writing about ``pages`` 4 KiB pages to the log."""
    with w.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS big (v TEXT)")
        cursor.executemany("INSERT INTO big VALUES (%s)", [("x" * 3500,)] * pages)


def until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def checkpointed(tmp_path):
    yield str(tmp_path / "checkpointed.sqlite3")
    stop_checkpointers()
    close_idle_connections()


def test_with_background_checkpoints_a_commit_does_not_copy_the_log(checkpointed):
    w = wrapper(checkpointed, checkpoint=3600)  # the thread will not run during this test
    with w.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 0
    write_pages(w, 2000)  # past the 1,000 pages at which SQLite's own checkpoint runs in the commit
    w.close()
    # Everything is still in the log: the database file has not grown.
    assert os.path.getsize(checkpointed) < 1_000_000 < os.path.getsize(checkpointed + "-wal")


def test_the_background_thread_copies_the_log_into_the_database(checkpointed):
    w = wrapper(checkpointed, checkpoint=0.05)
    write_pages(w, 2000)
    w.close()
    stats = checkpointer_stats(checkpointed)
    assert stats is not None
    assert until(lambda: stats.frames >= 2000, 10), stats
    assert os.path.getsize(checkpointed) > 2000 * 3500
    assert names_in(checkpointed) == 2000  # a new connection reads it all from the database file


def test_without_the_option_sqlite_checkpoints_as_by_default(tmp_path):
    path = str(tmp_path / "plain.sqlite3")
    w = wrapper(path)
    with w.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000
    assert checkpointer_stats(path) is None
    close_idle_connections()


def names_in(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM big").fetchone()[0]
    finally:
        conn.close()
