"""The Node client, the Python sender and the rokka example, run as their READMEs say against the real
server; each must do what its README promises."""

from __future__ import annotations

import json
import sys

import pytest

from credentials.models import AuditEvent
from tests.examples.conftest import EXAMPLES, readme_shows, run_example
from tests.live import ROOT, api_client
from tests.notifications.conftest import send_ok

pytestmark = [pytest.mark.live, pytest.mark.node]

BUILD = "npm run build"
NODE_CLIENT = "node node-client/dist/client.js"
PYTHON_SENDER = ".venv/bin/python examples/python-sender/send.py"
ROKKA = "node rokka-token/token.mjs"


@pytest.fixture(scope="session")
def node_client_built(examples_installed):
    """The TypeScript example compiled by its npm script (the real `typescript` compiler, its tsconfig)."""
    readme_shows(EXAMPLES / "node-client" / "README.md", BUILD)
    run_example(BUILD.split(), cwd=EXAMPLES, env={}, timeout=120)
    assert (EXAMPLES / "node-client" / "dist" / "client.js").exists()


def test_node_client_prints_each_in_app_message_as_a_json_line(node_client_built, started, daphne_server, tenant):
    readme_shows(EXAMPLES / "node-client" / "README.md", NODE_CLIENT)
    client = started(NODE_CLIENT.split(), env={"PLATFORM_URL": daphne_server.url, **tenant.customer_env("alice")})
    client.wait_line("stderr", lambda line: line.startswith("connected "))

    with api_client(daphne_server) as api:
        sent = send_ok(api, tenant, ["alice"], title="Welcome", body="Hello from the test", data={"n": 1})
        send_ok(api, tenant, ["bob"], title="Not for alice")  # another customer's message never shows
        last = send_ok(api, tenant, ["alice"], title="Second")

    first = client.wait_json(lambda m: True)
    assert first["id"] == sent["id"]
    assert (first["title"], first["body"], first["category"], first["data"], first["read"]) == (
        "Welcome",
        "Hello from the test",
        "billing",
        {"n": 1},
        False,
    )
    assert client.wait_json(lambda m: True)["id"] == last["id"]  # the very next line: bob's is not there
    assert client.stop() == 0  # SIGTERM closes the socket and exits cleanly
    # Nothing but messages on stdout: each line is one JSON object.
    printed = [line.removeprefix("stdout: ") for line in client.seen if line.startswith("stdout: ")]
    assert len(printed) == 2 and all(isinstance(json.loads(line), dict) for line in printed)


def test_python_sender_retries_with_its_idempotency_key_and_is_replayed(daphne_server, tenant):
    readme_shows(EXAMPLES / "python-sender" / "README.md", PYTHON_SENDER)
    env = {
        "PLATFORM_URL": daphne_server.url,
        "CLIENT_KEY": tenant.client_key,
        "CLIENT_SECRET": tenant.client_secret,
        "PRODUCT_SPACE_CODE": tenant.code,
        "RECIPIENTS": "alice,bob",
    }
    # The README's `.venv/bin/python` is this interpreter.
    result = run_example([sys.executable, *PYTHON_SENDER.split()[1:]], cwd=ROOT, env=env)
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["attempt"], first["status"], first["idempotent_replayed"]) == (1, 202, False)
    assert (second["attempt"], second["status"], second["idempotent_replayed"]) == (2, 202, True)
    assert second["message"] == first["message"]  # the first answer again
    assert first["message"]["stored"] == 2

    with api_client(daphne_server) as api:
        stored = api.get(f"in-app-messages/{first['message']['id']}", headers=tenant.client_headers()).json()
    assert stored["stored"] == 2  # one message, not two


def test_rokka_mints_a_token_from_an_api_key_and_renews_it(examples_installed, daphne_server, tenant):
    readme_shows(EXAMPLES / "rokka-token" / "README.md", ROKKA)
    result = run_example(
        ROKKA.split(), cwd=EXAMPLES, env={"PLATFORM_URL": daphne_server.url, "API_KEY": tenant.api_key_write}
    )
    steps = {step["step"]: step for step in map(json.loads, result.stdout.splitlines())}
    assert list(steps) == ["minted", "authenticated", "renewed"]
    minted, renewed = steps["minted"]["payload"], steps["renewed"]["payload"]
    key_id = minted["id"]
    assert steps["authenticated"]["api_key_id"] == key_id
    assert minted["rn"] is True and minted["expt"] == 86400
    # The renewal inherits the token's options and moves its expiry on.
    assert (renewed["id"], renewed["rn"], renewed["expt"], renewed["ips"]) == (key_id, True, 86400, minted["ips"])
    assert renewed["exp"] >= minted["exp"]
    actions = list(
        AuditEvent.objects.filter(target_id=key_id, action__startswith="api_token.")
        .order_by("at")
        .values_list("action", flat=True)
    )
    assert actions == ["api_token.issue", "api_token.renew"]
