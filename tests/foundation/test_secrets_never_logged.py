"""The suite-wide secret scan (tests/secret_scan.py) finds what it should, and only that.

The checker is called directly on records and texts made here, so a secret these tests put in a record
on purpose does not fail the session: only the records that really reach the root logger are collected.
"""

import logging
import sys
import time
import uuid

import httpx
import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from credentials import hashing, services
from credentials.audit import CLI
from tests import secret_scan
from tests.secret_scan import MATCH, Scanner, scanner
from tokens.api_tokens import api_token_encode


def record(
    message: str,
    *args,
    exc_info=None,
    extra: dict | None = None,
    name: str = "authplatform.test",
    level: int = logging.INFO,
) -> logging.LogRecord:
    made = logging.getLogger(name).makeRecord(name, level, __file__, 1, message, args, exc_info, extra=extra)
    return made


def kinds(leaks) -> list[str]:
    return sorted(leak.secret.kind for leak in leaks)


@pytest.fixture
def workspace(db):
    return services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:12]}", product_space_name="Main")


@pytest.fixture
def api_user(workspace):
    return services.api_user_create(
        actor=CLI, email=f"{uuid.uuid4().hex[:12]}@example.com", workspace=workspace, role="write"
    )


def test_a_logged_api_key_is_reported_and_its_id_is_not(api_user):
    api_key, plaintext = services.api_key_create(actor=CLI, user=api_user)

    leaks = scanner.leaks_in_record(record("Authenticated with %s", plaintext))
    assert kinds(leaks) == ["API key"]
    assert plaintext[32:] not in str(leaks[0])  # the report names the key by its id, not by its secret
    assert api_key.pk.hex in str(leaks[0])

    # Its id (the first 32 characters) and its hint are not secrets.
    assert scanner.leaks_in_record(record("Key %s (%s, %s) used", api_key.pk, plaintext[:32], api_key.hint)) == []
    # A truncated key is a leak once MATCH characters of its secret half are there.
    assert kinds(scanner.leaks_in_record(record("key …%s…", plaintext[40 : 40 + MATCH]))) == ["API key"]


def test_every_secret_the_services_make_is_noted(workspace, api_user):
    client, client_secret = services.client_create(actor=CLI, workspace=workspace)
    _, rotated_secret = services.client_secret_rotate(actor=CLI, client=client, grace_seconds=0)
    api_key, _ = services.api_key_create(actor=CLI, user=api_user)
    _, rotated_key = services.api_key_rotate(actor=CLI, api_key=api_key)
    legacy = hashing.random_base62(32)
    services.api_key_import_legacy(actor=CLI, user=api_user, key=legacy)
    signing_key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace)
    now = int(time.time())
    api_token = api_token_encode(payload={"id": str(api_key.pk), "exp": now + 60, "expt": 60, "ips": [], "rn": False})
    customer_token = jwt.encode(
        {"sub": "c", "exp": now + 60}, private_pem, algorithm="RS256", headers={"kid": str(signing_key.kid)}
    )

    assert kinds(scanner.leaks_in_text(client_secret)) == ["client secret"]
    assert kinds(scanner.leaks_in_text(rotated_secret)) == ["client secret"]
    assert kinds(scanner.leaks_in_text(rotated_key)) == ["API key"]
    assert kinds(scanner.leaks_in_text(legacy)) == ["legacy API key"]
    assert kinds(scanner.leaks_in_text(f"Authorization: Bearer {api_token}")) == ["JWT"]
    assert kinds(scanner.leaks_in_text(f"?token={customer_token}")) == ["JWT"]
    # One line of the private key's body, as a PEM or a .env value would print it.
    body_lines = private_pem.strip().splitlines()[1:-1]
    assert kinds(scanner.leaks_in_text(body_lines[len(body_lines) // 2])) == ["private key"]
    assert kinds(scanner.leaks_in_text(private_pem.replace("\n", "\\n"))) == ["private key"]


def test_what_is_public_is_not_reported(workspace):
    client, client_secret = services.client_create(actor=CLI, workspace=workspace)
    signing_key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace)
    token = jwt.encode({"sub": "c"}, private_pem, algorithm="RS256", headers={"kid": str(signing_key.kid)})
    jwk = RSAAlgorithm.to_jwk(RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(signing_key.public_key_pem))

    public = [
        client.client_key,
        client_secret[:7],  # the client's key and the secret's stored hint
        signing_key.public_key_pem,
        jwk,
        signing_key.fingerprint,  # the public key (its modulus is in the private one)
        token.rpartition(".")[0],  # a token's header and claims, without its signature
        jwt.encode({"sub": "c"}, None, algorithm="none"),  # an unsigned token: nothing secret in it
    ]
    for text in public:
        assert scanner.leaks_in_text(text) == [], text


def test_a_secret_in_arguments_a_traceback_or_extra_is_reported(workspace):
    _, client_secret = services.client_create(actor=CLI, workspace=workspace)

    try:
        raise RuntimeError("inner") from ValueError(f"bad secret {client_secret}")
    except RuntimeError:
        with_traceback = record("Request failed", exc_info=sys.exc_info())
    assert kinds(scanner.leaks_in_record(with_traceback)) == ["client secret"]
    assert kinds(scanner.leaks_in_record(record("headers: %r", {"x-client-secret": client_secret}))) == [
        "client secret"
    ]
    assert kinds(scanner.leaks_in_record(record("Refused", extra={"headers": {"secret": client_secret}}))) == [
        "client secret"
    ]
    # URL-encoded, as in a query string.
    assert kinds(scanner.leaks_in_text("/path?s=" + client_secret.replace("_", "%5F"))) == ["client secret"]


def test_configured_secrets_are_searched_for(settings):
    assert kinds(scanner.leaks_in_text(f"key={settings.SECRET_KEY};")) == ["SECRET_KEY"]
    pepper = settings.AUTHPLATFORM["PEPPER"]
    assert kinds(scanner.leaks_in_text(pepper)) == ["AUTHPLATFORM_PEPPER"]


def test_error_bodies_request_urls_and_server_logs_are_checked(tmp_path):
    own = Scanner()  # not the session's: these leaks are made on purpose
    secret = "cs_" + hashing.random_base62(40)
    own.add_plaintext(secret, origin="this test")

    request = httpx.Request("GET", f"http://127.0.0.1:1/api/v1/user?client_secret={secret}")
    own.collect_request(request)
    own.collect_response(httpx.Response(401, json={"code": 401, "message": f"Bad secret {secret}"}, request=request))
    own.collect_response(httpx.Response(200, json={"ok": secret}, request=request))  # a success is not an error body
    log = tmp_path / "daphne-1.log"
    log.write_text(f"starting\nGET /api/v1/user?client_secret={secret} 401\n")
    own.collect_file(log, where="daphne log")

    leaks = own.check_recent()
    assert sorted(leak.where.split(" (during")[0] for leak in leaks) == [
        "daphne log line 2",
        "error 401 body of GET /api/v1/user",
        "request URL GET /api/v1/user",
    ]
    assert own.check_recent() == []  # each leak is reported once
    assert own.check_all() == []


def test_a_test_chosen_secret_of_few_characters_does_not_match_everything():
    own = Scanner()
    own.add_plaintext("x" * 32, origin="a test")  # e.g. a legacy key a test makes up
    assert own.leaks_in_text("cursor=" + "x" * 40) == []


def test_a_secret_noted_after_it_was_logged_is_found_at_the_end():
    own = Scanner()
    own.collect_text(
        "token eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2g", where="a record", kind="log records"
    )
    assert own.check_recent() == []
    own.add_plaintext("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2g", origin="later")
    assert kinds(own.check_all()) == ["JWT"]


def test_secrets_in_successful_bodies_are_noted():
    own = Scanner()
    request = httpx.Request("POST", "http://127.0.0.1:1/api/v1/user/apikeys")
    key = uuid.uuid4().hex + hashing.random_base62(32)
    own.collect_response(httpx.Response(201, json={"id": "x", "api_key": key}, request=request))
    own.check_recent()
    assert kinds(own.leaks_in_text(key)) == ["API key"]


@pytest.mark.live
def test_keys_and_tokens_the_live_server_hands_out_are_noted(api, api_user, daphne_server):
    _, plaintext = services.api_key_create(actor=CLI, user=api_user)
    added = api.post("user/apikeys", headers={"Api-Key": plaintext}, json={"comment": "scan"})
    minted = api.get("user/apikeys/token", headers={"Api-Key": plaintext})
    assert added.status_code == 201 and minted.status_code == 200
    scanner.drain_responses()  # what the test's client read is looked at after the test, or now

    assert kinds(scanner.leaks_in_text(added.json()["api_key"])) == ["API key"]
    assert kinds(scanner.leaks_in_text(minted.json()["token"])) == ["JWT"]
    # The server runs with LOG_LEVEL=DEBUG: daphne's DEBUG lines are in its log.
    assert "HTTP b'POST' request for" in daphne_server.log_path.read_text()


def test_debug_records_are_collected_and_the_console_prints_no_more_than_before():
    root = logging.getLogger()
    assert any(isinstance(handler, secret_scan.Collector) for handler in root.handlers)
    assert logging.getLogger("django.request").isEnabledFor(logging.DEBUG)  # ERROR in settings.LOGGING

    before = scanner.counts["log records"]
    logging.getLogger("authplatform.test").debug("a debug record")
    assert scanner.counts["log records"] == before + 1

    console = next(h for h in root.handlers if type(h) is logging.StreamHandler)
    assert not console.filter(record("debug", level=logging.DEBUG))
    assert console.filter(record("info", level=logging.INFO))
    assert not console.filter(record("a 404", name="django.request", level=logging.WARNING))
    assert console.filter(record("a 500", name="django.request", level=logging.ERROR))


def test_node_output_is_noted():
    own = Scanner()
    token, other = (jwt.encode({"sub": sub}, "k" * 32, algorithm="HS256") for sub in ("a", "b"))
    own.add_json({"token": token, "nested": {"list": [other]}}, origin="node")  # a JWT anywhere is noted
    assert kinds(own.leaks_in_text(token)) == ["JWT"]
    assert kinds(own.leaks_in_text(other)) == ["JWT"]
