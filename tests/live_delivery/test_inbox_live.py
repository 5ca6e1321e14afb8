"""Inbox state on every tab: a change made anywhere (one tab, another device, the API) reaches every
socket of the customer as inboxUpdated and counts, with the real socket.io-client."""

from __future__ import annotations

import httpx
import pytest

from tests.live_delivery.test_socketio import WAIT, NodeSocket, make_tenant, send_message

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]


def test_two_tabs_of_one_customer_see_each_others_changes(daphne_server):
    tenant = make_tenant()
    tabs = [NodeSocket(daphne_server, tenant.seed_env("C1"), script="socketio_recovery_client.mjs") for _ in range(2)]
    other = NodeSocket(daphne_server, tenant.seed_env("C2"), script="socketio_recovery_client.mjs")
    try:
        for socket in (*tabs, other):
            socket.wait_for("connect")
            # Right after connecting: the counts, beside the unread count.
            assert socket.wait_for("counts")["data"] == {"unseen": 0, "unread": 0, "total": 0}
        first = send_message(daphne_server, tenant, ["C1"], title="one")["id"]
        second = send_message(daphne_server, tenant, ["C1"], title="two")["id"]
        for tab in tabs:
            assert tab.wait_for_count("counts", 3)[-1]["data"] == {"unseen": 2, "unread": 2, "total": 2}

        api = httpx.Client(base_url=daphne_server.api + "/", timeout=WAIT)
        headers = {"Authorization": f"Bearer {tenant.token('C1')}"}
        # "Tab one" opens the bell, then reads and deletes; both tabs hear each change.
        assert api.post("customer/inbox/seen-all", headers=headers).status_code == 200
        assert api.post(f"customer/inbox/{first}/read", headers=headers).status_code == 200
        assert api.delete(f"customer/inbox/{second}", headers=headers).status_code == 204
        for tab in tabs:
            updates = tab.wait_for_count("inboxUpdated", 3)
            assert [u["data"]["change"] for u in updates] == ["seen", "read", "delete"]
            assert updates[1]["data"]["ids"] == [first] and updates[2]["data"]["ids"] == [second]
            assert tab.wait_for_count("counts", 6)[-1]["data"] == {"unseen": 0, "unread": 0, "total": 1}
            # Offsets ride along, so a tab that drops now still recovers from where it was.
            assert updates[-1]["offset"].isdigit()
        # Every other change, one after another, each heard on both tabs with the counts after it.
        third = send_message(daphne_server, tenant, ["C1"], title="three")["id"]
        for tab in tabs:
            tab.wait_for_count("inAppMessage", 3)
        steps = [
            # (third is new: unseen and unread)
            ("POST", f"customer/inbox/{first}/unread", None, "unread", [first], (1, 2, 2)),
            ("POST", f"customer/inbox/{third}/archive", None, "archive", [third], (0, 1, 1)),
            ("POST", f"customer/inbox/{third}/unarchive", None, "unarchive", [third], (1, 2, 2)),
            ("POST", "customer/inbox/bulk", {"action": "read", "ids": [first, third]}, "read", None, (1, 0, 2)),
            ("POST", "customer/inbox/read-all", None, "read", None, (1, 0, 2)),  # nothing left: no event
        ]
        heard = 3
        for method, path, body, change, ids, (unseen, unread, total) in steps:
            answer = api.request(method, path, headers=headers, json=body)
            assert answer.status_code == 200, answer.text
            if path.endswith("read-all"):
                continue
            heard += 1
            for tab in tabs:
                update = tab.wait_for_count("inboxUpdated", heard)[-1]["data"]
                assert update["change"] == change and (ids is None or update["ids"] == ids)
                if ids is None:
                    assert sorted(update["ids"]) == sorted([first, third])
                counts = tab.wait_for_count("counts", 3 + heard)[-1]["data"]
                assert counts == {"unseen": unseen, "unread": unread, "total": total}, (path, counts)
        for tab in tabs:
            assert len(tab.heard("inboxUpdated")) == heard  # read-all changed nothing: announced nothing
        assert other.heard("inboxUpdated") == []  # another customer hears nothing of it
        api.close()
    finally:
        for socket in (*tabs, other):
            socket.close()
