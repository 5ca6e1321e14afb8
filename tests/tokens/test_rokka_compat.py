"""The real ``rokka`` npm client (4.0.0) against a live daphne server, apiHost http://127.0.0.1:PORT/api/v1."""

import pytest

from credentials.models import ApiKey, AuditEvent
from tests.live import random_loopback, run_node

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]


def test_rokka_client_manages_keys_and_tokens(daphne_server, api_user, api_key):
    source_ip = random_loopback()
    out = run_node(
        "rokka_compat.mjs",
        env={
            "API_HOST": daphne_server.api,
            "API_KEY": api_key,
            "LOCAL_ADDRESS": source_ip,
        },
    )
    first = ApiKey.objects.get(user=api_user, comment="fixture")

    # getCurrentApiKey / getId: parsed as JSON by the client (exact Content-Type).
    assert out["current"]["id"] == str(first.pk)
    assert out["userId"] == str(api_user.pk)

    # addApiKey: 201 with the key shown once; listApiKeys: both.
    assert out["added"]["status"] == 201
    added = out["added"]["body"]
    assert added["comment"] == "added by rokka" and len(added["api_key"]) == 64
    assert {k["id"] for k in out["listed"]} == {str(first.pk), added["id"]}

    # getNewToken with options, stored through apiTokenSetCallback.
    payload = out["newToken"]["payload"]
    assert payload["id"] == str(first.pk)
    assert (payload["expt"], payload["ips"], payload["rn"]) == (7200, [source_ip, "192.0.2.0/24"], True)
    assert out["storedIsReturned"] is True

    # A client with no API key, authenticated only by the stored token.
    assert out["currentByToken"]["id"] == str(first.pk)
    assert out["userByToken"]["user_id"] == str(api_user.pk)

    # Automatic renewal by the client (token within apiTokenRefreshTime of expiry), with the token alone.
    assert out["listedAfterRenewal"] == 2
    assert out["renewal"]["tokenSets"] == 2
    assert out["renewal"]["payload"]["expt"] == 600 and out["renewal"]["payload"]["ips"] == [source_ip]
    assert AuditEvent.objects.filter(action="api_token.renew", target_id=str(first.pk)).exists()

    # deleteApiKey: 204, gone from the list, and the deleted key is refused with the seed's 403.
    assert out["deleted"]["status"] == 204
    assert [k["id"] for k in out["listedAfterDelete"]] == [str(first.pk)]
    refused = out["deletedKeyRefused"]
    assert refused["status"] == 403 and refused["body"]["invalid_authentication"] is True

    # A token of a deleted key: 401, and the client clears its stored token.
    assert out["tokenOfDeletedKey"]["status"] == 401
    assert out["tokenOfDeletedKey"]["body"]["reason"] == "api_key_revoked"
    assert out["tokenClearedAfter401"] is True
