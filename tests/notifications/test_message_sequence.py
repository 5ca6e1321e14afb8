"""Sends numbered per product space in commit order (notifications.models.MessageSequence): what the
Socket.IO offsets and connection state recovery stand on (live/recovery.py)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections, transaction

from notifications import selectors, services
from notifications.selectors import Sender

pytestmark = [pytest.mark.django_db(transaction=True)]

WRITER = Sender(label="test", role_in=lambda workspace: "write")


def send(space, recipients=("alice",), title="t"):
    return services.in_app_message_send(
        sender=WRITER, product_space_code=space.code, recipients=list(recipients), title=title, body="b", category="c"
    ).message


def test_a_send_waits_for_the_earlier_number_to_commit_so_numbers_follow_commit_order(world):
    """Two sends of one product space: the first holds its transaction open. The second cannot take a
    number until the first commits, so the later commit has the higher number (ids, handed out before
    commit on PostgreSQL, give no such promise)."""
    before = selectors.message_sequence_current(product_space=world.a.product_spaces[0])
    numbered, open_, release = {}, threading.Event(), threading.Event()

    def first():
        try:
            with transaction.atomic():
                numbered["first"] = send(world.a, title="first").sequence
                open_.set()
                release.wait(10)
        finally:
            connections.close_all()

    def second():
        try:
            numbered["second"] = send(world.a, title="second").sequence
            numbered["second_done"] = time.monotonic()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert open_.wait(10)
    threads[1].start()
    time.sleep(0.5)
    assert "second" not in numbered  # waiting for the first to commit
    released = time.monotonic()
    release.set()
    for thread in threads:
        thread.join(15)
    assert numbered["second_done"] >= released
    assert (numbered["first"], numbered["second"]) == (before + 1, before + 2)
    assert selectors.message_sequence_current(product_space=world.a.product_spaces[0]) == before + 2


def test_a_rolled_back_send_gives_its_number_back_and_spaces_count_apart(world):
    start_a = selectors.message_sequence_current(product_space=world.a.product_spaces[0])
    start_b = selectors.message_sequence_current(product_space=world.b.product_spaces[0])
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            send(world.a)
            raise RuntimeError("rolled back")
    assert send(world.a).sequence == start_a + 1  # dense: no hole where the rolled-back send was
    assert send(world.b).sequence == start_b + 1  # each product space has its own order


def test_a_send_that_stored_nothing_takes_no_number(api, world):
    api.put(
        "customer/preferences",
        json={"preferences": {"c": {"in_app": False}}},
        headers=world.customer_headers("a", "alice"),
    )
    before = selectors.message_sequence_current(product_space=world.a.product_spaces[0])
    assert send(world.a, recipients=["alice"]).sequence is None  # opted out: nothing to deliver
    assert selectors.message_sequence_current(product_space=world.a.product_spaces[0]) == before


def test_the_items_after_a_number_are_the_customers_own_in_number_order(world):
    first = send(world.a, recipients=["alice", "bob"], title="1")
    send(world.a, recipients=["bob"], title="2")
    third = send(world.a, recipients=["alice"], title="3")
    fourth = send(world.a, recipients=["alice", "bob"], title="4")
    after = selectors.inbox_items_after(
        product_space=world.a.product_spaces[0], customer_id="alice", after=first.sequence, limit=10
    )
    assert [item.message.title for item in after] == ["3", "4"]
    assert [item.message_id for item in after] == [third.id, fourth.id]
    assert (
        selectors.inbox_items_after(
            product_space=world.a.product_spaces[0], customer_id="alice", after=first.sequence, limit=1
        )[0].message_id
        == third.id
    )
    # A number whose message is gone: what followed it cannot be told.
    assert (
        selectors.inbox_items_after(
            product_space=world.a.product_spaces[0], customer_id="alice", after=10**12, limit=10
        )
        is None
    )
