"""API tokens over real HTTP: minting with options, IP binding, renewal, and the key's life ending them."""

import json
import time
import uuid

import jwt
import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey, AuditEvent, PlatformTokenKey
from tests.live import assert_error

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def mint(api, key: str, method: str = "GET", **options):
    if method == "GET":
        response = api.get("user/apikeys/token", headers={"Api-Key": key, "Api-Version": "1"}, params=options)
    else:
        response = api.post("user/apikeys/token", headers={"Api-Key": key}, json=options)
    return response


def token_of(api, key: str, **options) -> str:
    response = mint(api, key, **options)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Api-Version": "1"}


@pytest.fixture(params=["v2", "legacy"])
def any_key(request, api_key, legacy_key) -> str:
    return api_key if request.param == "v2" else legacy_key


def test_token_has_the_seeds_shape_and_defaults(api, api_user, any_key):
    before = int(time.time())
    response = mint(api, any_key)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"token", "payload"}
    payload = body["payload"]
    assert list(payload) == ["id", "exp", "expt", "ips", "rn"]
    key = ApiKey.objects.get(pk=payload["id"])
    assert key.user == api_user and str(uuid.UUID(payload["id"])) == payload["id"]
    assert payload["expt"] == 86400 and before + 86400 <= payload["exp"] <= int(time.time()) + 86400
    assert payload["ips"] == [api.source_ip]  # IP-protected by default with the caller's address
    assert payload["rn"] is True  # renewable by default when IP-protected
    # The JWT carries exactly that payload, HS256, kid = a platform key (not a UUID).
    assert jwt.decode(body["token"], options={"verify_signature": False}) == payload
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "HS256" and PlatformTokenKey.objects.filter(pk=header["kid"]).exists()
    # And it authenticates as the same user.
    current = api.get("user/apikeys/current", headers=bearer(body["token"]))
    assert current.status_code == 200 and current.json()["id"] == payload["id"]
    assert api.get("user", headers=bearer(body["token"])).json()["user_id"] == str(api_user.pk)


def test_options_by_query_and_by_body(api, api_key):
    by_query = mint(api, api_key, expires_in="3600", no_ip_protection="true").json()["payload"]
    assert (by_query["expt"], by_query["ips"], by_query["rn"]) == (3600, [], False)
    by_body = mint(api, api_key, "POST", expires_in=120, ips="request_ip,", renewable=False).json()["payload"]
    assert (by_body["expt"], by_body["ips"], by_body["rn"]) == (120, [api.source_ip], False)
    ones = mint(api, api_key, no_ip_protection="1", renewable="1").json()["payload"]
    assert (ones["ips"], ones["rn"]) == ([], True)
    zeros = mint(api, api_key, no_ip_protection="0", renewable="0").json()["payload"]
    assert (zeros["ips"], zeros["rn"]) == ([api.source_ip], False)


def test_ips_accept_ipv4_ipv6_cidrs_and_normalise(api, api_key):
    payload = mint(api, api_key, ips="request_ip, 212.40.50.1/24,,2001:db8::/120, 2001:db8::1").json()["payload"]
    assert payload["ips"] == [api.source_ip, "212.40.50.0/24", "2001:db8::/120", "2001:db8::1"]
    assert payload["rn"] is True


def test_token_bound_to_10_slash_8_is_refused_from_loopback_and_accepted_with_request_ip(
    daphne_server_factory, client_from, api_key
):
    # 10.0.0.0/8 is 16,777,216 addresses: over the default limit (see the 10,000 test below), so this
    # runs on a server whose operator raised API_TOKEN_MAX_IP_ADDRESSES, as the seed allows.
    server = daphne_server_factory(DJANGO_SETTINGS_MODULE="tests.tokens.settings_wide_ip_limit")
    api = client_from()
    api.base_url = f"{server.api}/"
    remote = token_of(api, api_key, ips="10.0.0.0/8")
    response = api.get("user/apikeys/current", headers=bearer(remote))
    body = assert_error(response, 401, "ip_not_allowed", invalid_authentication=True)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert api.source_ip in body["message"]

    with_me = token_of(api, api_key, ips="request_ip,10.0.0.0/8")
    assert jwt.decode(with_me, options={"verify_signature": False})["ips"] == [api.source_ip, "10.0.0.0/8"]
    assert api.get("user/apikeys/current", headers=bearer(with_me)).status_code == 200
    # ... but only from this address: another loopback address is in neither rule.
    other = client_from()
    other.base_url = f"{server.api}/"
    assert_error(other.get("user", headers=bearer(with_me)), 401, "ip_not_allowed", invalid_authentication=True)
    # An unprotected token works from anywhere.
    anywhere = token_of(api, api_key, no_ip_protection="true")
    assert other.get("user", headers=bearer(anywhere)).status_code == 200


def test_token_bound_to_127_0_0_1_refused_elsewhere(client_from, api_key):
    home = client_from("127.0.0.1")
    token = token_of(home, api_key)  # request_ip = 127.0.0.1
    assert home.get("user", headers=bearer(token)).status_code == 200
    assert_error(client_from().get("user", headers=bearer(token)), 401, "ip_not_allowed", invalid_authentication=True)


def test_no_ip_protection_with_ips_is_400(api, api_key):
    response = mint(api, api_key, no_ip_protection="true", ips="1.2.3.4")
    assert_error(response, 400, "conflicting_options", invalid_authentication=False)
    # Empty items are ignored, so an empty list does not conflict.
    assert mint(api, api_key, no_ip_protection="true", ips=" , ").status_code == 200


def test_more_than_10_values_is_400_naming_the_limit(api, api_key):
    eleven = ",".join(f"192.0.2.{i}" for i in range(11))
    body = assert_error(mint(api, api_key, ips=eleven), 400, "too_many_ip_values", invalid_authentication=False)
    assert "10 values" in body["message"]
    ten = ",".join(f"192.0.2.{i}" for i in range(10))
    assert mint(api, api_key, ips=ten).json()["payload"]["ips"][-1] == "192.0.2.9"


def test_more_than_10000_addresses_is_400_naming_the_limit(api, api_key):
    body = assert_error(
        mint(api, api_key, ips="10.0.0.0/8"), 400, "too_many_ip_addresses", invalid_authentication=False
    )
    assert "10,000 addresses" in body["message"]
    # Two disjoint /19 (8,192 each) are over the limit together.
    assert_error(
        mint(api, api_key, ips="10.0.0.0/19,10.1.0.0/19"), 400, "too_many_ip_addresses", invalid_authentication=False
    )
    assert_error(mint(api, api_key, ips="2001:db8::/64"), 400, "too_many_ip_addresses", invalid_authentication=False)
    # Overlapping networks are counted once: 8,192 addresses.
    assert mint(api, api_key, ips="10.0.0.0/19,10.0.0.0/20").status_code == 200


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"ips": "not-an-ip"}, "invalid_ips"),
        ({"ips": "10.0.0.0/33"}, "invalid_ips"),
        ({"expires_in": "0"}, "invalid_expires_in"),
        ({"expires_in": "-5"}, "invalid_expires_in"),
        ({"expires_in": str(366 * 86400)}, "invalid_expires_in"),
        ({"expires_in": "soon"}, "invalid_request"),
        ({"renewable": "perhaps"}, "invalid_request"),
    ],
)
def test_bad_options_are_400(api, api_key, options, reason):
    assert_error(mint(api, api_key, **options), 400, reason, invalid_authentication=False)


def test_renewal_with_the_token(api, api_key):
    token = token_of(api, api_key, expires_in="3600", ips="request_ip,192.0.2.0/24")
    renewed = api.get("user/apikeys/token", headers=bearer(token))
    assert renewed.status_code == 200
    payload = renewed.json()["payload"]
    # Options left out are inherited: same lifetime, same IP rules, still renewable.
    assert (payload["expt"], payload["ips"], payload["rn"]) == (3600, [api.source_ip, "192.0.2.0/24"], True)
    # Shorter and narrower is allowed; booleans and the IP list as the seed sends them.
    narrower = api.post("user/apikeys/token", headers=bearer(token), json={"expires_in": 60, "ips": "request_ip"})
    assert narrower.status_code == 200
    assert narrower.json()["payload"]["ips"] == [api.source_ip]
    assert AuditEvent.objects.filter(action="api_token.renew").count() == 2
    # Within the union of the old networks, though in none of them alone, is not wider.
    halves = token_of(api, api_key, ips="request_ip,192.0.2.0/25,192.0.2.128/25")
    whole = api.get("user/apikeys/token", headers=bearer(halves), params={"ips": "request_ip,192.0.2.0/24"})
    assert whole.status_code == 200, whole.text
    assert whole.json()["payload"]["ips"] == [api.source_ip, "192.0.2.0/24"]


def test_renewal_beyond_expt_is_403(api, api_key):
    token = token_of(api, api_key, expires_in="3600")
    response = api.get("user/apikeys/token", headers=bearer(token), params={"expires_in": "3601"})
    body = assert_error(response, 403, "renewal_exceeds_expt", invalid_authentication=False)
    assert "3600" in body["message"]
    # With the API key there is no such limit (seed).
    assert mint(api, api_key, expires_in="7200").status_code == 200


def test_renewal_may_not_widen_ips(api, api_key):
    token = token_of(api, api_key)  # bound to the caller's address only
    for options in ({"ips": "request_ip,192.0.2.1"}, {"no_ip_protection": "true"}, {"ips": "127.0.0.0/24"}):
        response = api.get("user/apikeys/token", headers=bearer(token), params=options)
        assert_error(response, 403, "renewal_widens_ips", invalid_authentication=False)


def test_non_renewable_token_cannot_renew(api, api_key):
    token = token_of(api, api_key, renewable="false")
    assert api.get("user", headers=bearer(token)).status_code == 200
    assert_error(
        api.get("user/apikeys/token", headers=bearer(token)), 403, "token_not_renewable", invalid_authentication=False
    )


def test_tokens_die_when_the_key_is_deleted(api, api_key, legacy_key):
    token = token_of(api, legacy_key, no_ip_protection="true")
    assert api.get("user", headers=bearer(token)).status_code == 200
    legacy_id = jwt.decode(token, options={"verify_signature": False})["id"]
    assert api.delete(f"user/apikeys/{legacy_id}", headers={"Api-Key": api_key}).status_code == 204
    response = api.get("user", headers=bearer(token))
    assert_error(response, 401, "api_key_revoked", invalid_authentication=True)
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_tokens_die_when_the_key_is_rotated(api, api_user, api_key):
    token = token_of(api, api_key)
    assert api.get("user", headers=bearer(token)).status_code == 200
    _, new_plaintext = services.api_key_rotate(actor=CLI, api_key=ApiKey.objects.get(user=api_user))
    assert_error(api.get("user", headers=bearer(token)), 401, "api_key_revoked", invalid_authentication=True)
    assert api.get("user", headers=bearer(token_of(api, new_plaintext))).status_code == 200


def test_token_of_deleted_key_cannot_delete_it_in_use(api, api_key):
    token = token_of(api, api_key)
    key_id = jwt.decode(token, options={"verify_signature": False})["id"]
    assert_error(
        api.delete(f"user/apikeys/{key_id}", headers=bearer(token)), 409, "api_key_in_use", invalid_authentication=False
    )


def test_rotated_platform_keys_keep_verifying_revoked_ones_do_not(api, api_key):
    old_token = token_of(api, api_key)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_key = services.platform_token_key_rotate(actor=CLI, reason="test")
    new_token = token_of(api, api_key)
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid != old_kid
    assert api.get("user", headers=bearer(old_token)).status_code == 200
    assert api.get("user", headers=bearer(new_token)).status_code == 200
    services.platform_token_key_revoke(actor=CLI, key=PlatformTokenKey.objects.get(pk=old_kid))
    assert_error(api.get("user", headers=bearer(old_token)), 401, "signing_key_unknown", invalid_authentication=True)
    assert api.get("user", headers=bearer(new_token)).status_code == 200


def test_expired_forged_and_malformed_tokens_are_401(api, api_key):
    token = token_of(api, api_key, expires_in="1")
    time.sleep(2.1)
    assert_error(api.get("user", headers=bearer(token)), 401, "token_expired", invalid_authentication=True)

    good = token_of(api, api_key)
    kid = jwt.get_unverified_header(good)["kid"]
    payload = jwt.decode(good, options={"verify_signature": False})
    # The payload changed (IP protection dropped) under the original signature.
    header_b64, _, signature = good.split(".")
    widened = jwt.utils.base64url_encode(json.dumps({**payload, "ips": []}).encode()).decode()
    assert_error(
        api.get("user", headers=bearer(f"{header_b64}.{widened}.{signature}")),
        401,
        "invalid_signature",
        invalid_authentication=True,
    )
    wrong_secret = jwt.encode(payload, "not the platform key" * 2, algorithm="HS256", headers={"kid": kid})
    assert_error(api.get("user", headers=bearer(wrong_secret)), 401, "invalid_signature", invalid_authentication=True)
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": kid})
    assert_error(api.get("user", headers=bearer(unsigned)), 401, "algorithm_not_allowed", invalid_authentication=True)
    unknown_kid = jwt.encode(payload, "x" * 32, algorithm="HS256", headers={"kid": "nope"})
    assert_error(api.get("user", headers=bearer(unknown_kid)), 401, "signing_key_unknown", invalid_authentication=True)
    for garbage in ("not-a-jwt", "a.b.c", "x" * 5000):
        assert_error(api.get("user", headers=bearer(garbage)), 401, invalid_authentication=True)
    two_tokens = api.get("user", headers={"Authorization": f"Bearer {good} {good}"})
    assert_error(two_tokens, 401, "malformed_authorization_header", invalid_authentication=True)
