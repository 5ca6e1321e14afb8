"""docs/asyncapi.yaml, the live protocol's description: served, and naming what the server sends.

That every event the suite's socket clients hear validates against it is checked after each test
(tests/asyncapi_conformance.py)."""

from __future__ import annotations

import re

import httpx
import pytest
import yaml

from live.fanout import IN_APP_MESSAGE_EVENT, UNREAD_COUNT_EVENT
from live.socketio_protocol import CloseCode
from tests.asyncapi_conformance import DOCUMENT
from tests.live import ROOT


def document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


def test_the_document_names_every_event_and_refusal_the_server_sends():
    doc = document()
    assert doc["asyncapi"].startswith("3.")
    messages = {m["name"]: m for m in doc["components"]["messages"].values()}
    assert {IN_APP_MESSAGE_EVENT, UNREAD_COUNT_EVENT, "sessionEnded", "connect_error", "CONNECT"} <= set(messages)
    for operation in doc["operations"].values():  # every operation's messages are the channel's
        for ref in operation["messages"]:
            assert ref["$ref"].split("/")[-1] in doc["channels"]["customer"]["messages"]
    # Every connect_error reason docs/live-delivery.md's table lists is in the enum, and no other.
    readme = (ROOT / "docs" / "live-delivery.md").read_text()
    table = readme[readme.index("| `error.data.reason` | meaning |") :]
    table = table[: table.index("\n\n")]
    first_cells = [row.split("|")[1] for row in table.splitlines()[2:]]
    documented = {reason for cell in first_cells for reason in re.findall(r"`([a-z_]+)`", cell)}
    reasons = set(messages["connect_error"]["payload"]["properties"]["data"]["properties"]["reason"]["enum"])
    assert documented == reasons
    for code in CloseCode:
        assert str(int(code)) in doc["info"]["description"], code


@pytest.mark.live
def test_it_is_served_beside_the_openapi_schema(daphne_server):
    answer = httpx.get(f"{daphne_server.url}/api/v1/asyncapi.yaml")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/yaml"
    assert yaml.safe_load(answer.text) == document()
