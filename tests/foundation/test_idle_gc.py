"""Full garbage collections wait for an idle moment (authplatform/idle_gc.py).

Each test installs a collector of its own in this process, with a busy check it controls, and drives
CPython's own rule (generation-1 collections, objects moved to the oldest generation) by keeping many
new objects alive; ``gc.get_stats()`` counts the full collections that really ran.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

from authplatform import idle_gc


def full_collections() -> int:
    return gc.get_stats()[2]["collections"]


def until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def make_a_full_collection_due(collector: idle_gc.IdleCollector, keep: list) -> None:
    """Allocate objects that survive, as a burst of requests does, until CPython's rule says a full
    collection is due (it would have run one inside this loop)."""
    deadline = time.monotonic() + 30
    while not collector.stats.due:
        assert time.monotonic() < deadline, "no full collection came due"
        keep.extend([i] for i in range(10_000))


@pytest.fixture
def busy():
    return threading.Event()


@pytest.fixture
def collector(busy, monkeypatch):
    monkeypatch.setattr(idle_gc, "MAX_DELAY", 30.0)  # each test sets its own where it matters
    gc.collect()
    c = idle_gc.IdleCollector()
    c.add_busy_check(busy.is_set)
    c.install()
    yield c
    c.uninstall()


def test_a_due_full_collection_waits_while_busy_then_runs(collector, busy):
    keep: list = []
    busy.set()
    before = full_collections()
    make_a_full_collection_due(collector, keep)
    time.sleep(0.5)
    # Without the collector CPython would have run it inside the allocations above.
    assert full_collections() == before
    busy.clear()
    assert until(lambda: full_collections() > before, 10)
    assert collector.stats.idle == 1 and collector.stats.forced == 0


def test_a_full_collection_still_runs_after_max_delay(collector, busy, monkeypatch):
    monkeypatch.setattr(idle_gc, "MAX_DELAY", 0.3)
    keep: list = []
    busy.set()
    before = full_collections()
    make_a_full_collection_due(collector, keep)
    assert until(lambda: full_collections() > before, 10)
    assert collector.stats.forced == 1


def test_a_check_with_its_own_max_delay_holds_a_collection_back_longer(collector, busy, monkeypatch):
    """Sockets mid-close (authplatform/asgi.py) may hold a collection back past MAX_DELAY, up to their own
    bound; the other checks still give up after MAX_DELAY."""
    monkeypatch.setattr(idle_gc, "MAX_DELAY", 0.2)
    closing = threading.Event()
    collector.add_busy_check(closing.is_set, max_delay=30.0)
    keep: list = []
    closing.set()
    busy.set()  # a request in flight: would hold it back 0.2 s at most
    before = full_collections()
    make_a_full_collection_due(collector, keep)
    time.sleep(1.0)
    assert full_collections() == before
    busy.clear()
    closing.clear()
    assert until(lambda: full_collections() > before, 10)
    assert collector.stats.idle == 1 and collector.stats.forced == 0


def test_a_check_with_its_own_max_delay_still_gives_way_after_it(collector, monkeypatch):
    monkeypatch.setattr(idle_gc, "MAX_DELAY", 0.1)
    closing = threading.Event()
    collector.add_busy_check(closing.is_set, max_delay=0.8)
    keep: list = []
    closing.set()
    before = full_collections()
    make_a_full_collection_due(collector, keep)
    due_at = time.monotonic()
    assert until(lambda: full_collections() > before, 10)
    assert time.monotonic() - due_at >= 0.6  # its own bound, not MAX_DELAY
    assert collector.stats.forced == 1


def test_work_queued_on_the_event_loop_counts_as_busy(busy, monkeypatch):
    monkeypatch.setattr(idle_gc, "MAX_DELAY", 30.0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    c = idle_gc.IdleCollector()
    c.install(loop=loop)
    release = threading.Event()
    try:
        loop.call_soon_threadsafe(release.wait, 30)  # the loop is busy, e.g. writing a fan-out's frames
        keep: list = []
        before = full_collections()
        make_a_full_collection_due(c, keep)
        time.sleep(0.5)
        assert full_collections() == before
        release.set()
        assert until(lambda: full_collections() > before, 10)
        assert c.stats.idle == 1
    finally:
        release.set()
        c.uninstall()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_full_collections_that_free_nothing_space_out_the_next_ones(collector):
    """Objects that grow and stay alive (sockets connecting): each full collection that frees next to
    nothing doubles the growth that makes the next one due, up to MAX_GROWTH; one that frees garbage
    brings back CPython's quarter. (The collector's callback is driven directly here: in this process
    other tests leave garbage of their own for a real collection to find.)"""
    assert collector.growth == idle_gc.GROWTH
    done = {"generation": 2, "collected": 0, "uncollectable": 0}
    collector._on_collection("stop", done)
    assert collector.growth == 2 * idle_gc.GROWTH
    collector._on_collection("stop", done)
    collector._on_collection("stop", done)
    assert collector.growth == idle_gc.MAX_GROWTH
    collector._on_collection("stop", {**done, "collected": collector._long_lived_total})  # freed half
    assert collector.growth == idle_gc.GROWTH


def test_a_spaced_out_full_collection_comes_due_at_its_growth(collector, busy):
    busy.set()  # it stays due, not run, while the test looks
    collector._on_collection("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    total = collector._long_lived_total
    keep: list = []
    make_a_full_collection_due(collector, keep)
    assert collector._long_lived_pending >= total * 2 * idle_gc.GROWTH  # half, not a quarter


def test_uninstall_gives_full_collections_back_to_cpython(collector):
    threshold = gc.get_threshold()
    assert threshold[2] == idle_gc.BACKSTOP_THRESHOLD
    collector.uninstall()
    assert gc.get_threshold()[2] == idle_gc.DEFAULT_FULL_THRESHOLD
