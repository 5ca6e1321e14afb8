"""Customer JWTs over real HTTP (``GET customer/me``), signed by the first seed document's TypeScript
example, unchanged, compiled with the real ``typescript`` package and run with the real ``jsonwebtoken``."""

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
from django.utils import timezone

from credentials import services
from credentials.audit import CLI
from credentials.models import CustomerSigningKey
from tests.live import JS_DIR, assert_error, run_node

pytestmark = [pytest.mark.live, pytest.mark.node, pytest.mark.django_db(transaction=True)]

# The first seed document's "TypeScript Example", verbatim: what customers' backends run.
SEED_EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "seed_customer_jwt_example.ts.txt"


def parse_env_block(block: str) -> dict[str, str]:
    env = {}
    for line in block.strip().splitlines():
        name, _, quoted = line.partition("=")
        env[name] = json.loads(quoted)  # NAME="value"; the key's \n escapes stay literal backslash-n
    return env


@pytest.fixture
def signing(workspace):
    """A generated signing key: (key, private PEM, the seed's CUSTOMER_* variables for customer CUST-1)."""
    key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace)
    env = parse_env_block(services.customer_env_block(key=key, private_pem=private_pem, product_space=None))
    env["CUSTOMER_UNIQUE_CUSTOMER_ID"] = "CUST-1"
    return key, private_pem, env


def seed_token(env: dict[str, str], **overrides: str) -> str:
    return run_node("seed_customer_jwt.mjs", env={**env, **overrides})["token"]


def seed_tokens(env: dict[str, str], *variants: dict[str, str]) -> list[str]:
    """The seed example run once per variant of its CUSTOMER_* variables, in one Node process."""
    return run_node("seed_customer_jwt.mjs", env={**env, "SEED_VARIANTS": json.dumps(variants)})["tokens"]


def claims(env: dict[str, str], **changes) -> dict:
    now = int(time.time())
    base = {
        "type": "customer",
        "workspace_id": env["CUSTOMER_WORKSPACE_ID"],
        "product_space_code": env["CUSTOMER_PRODUCT_SPACE_CODE"],
        "sub": "CUST-1",
        "iat": now,
        "exp": now + 600,
    }
    return {**base, **changes}


def rs256(private_pem: str, kid, payload: dict) -> str:
    return jwt.encode(payload, private_pem, algorithm="RS256", headers={"kid": str(kid)})


def me(api, token: str):
    return api.get("customer/me", headers={"Authorization": f"Bearer {token}"})


def assert_refused(response, reason: str) -> None:
    assert_error(response, 401, reason, invalid_authentication=True)
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_seed_example_token_is_accepted(api, workspace, signing):
    key, _, env = signing
    token = seed_token(env)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": str(key.kid)}
    assert jwt.decode(token, options={"verify_signature": False})["jti"].startswith("customer-CUST-1-")
    response = me(api, token)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["customer_id"] == "CUST-1"
    assert body["workspace_id"] == workspace.code == env["CUSTOMER_WORKSPACE_ID"]
    assert body["product_space_code"] == env["CUSTOMER_PRODUCT_SPACE_CODE"]
    assert body["signing_key_id"] == str(key.kid)


def test_seed_example_is_unchanged_in_the_script():
    example = SEED_EXAMPLE.read_text().strip()
    script = (JS_DIR / "seed_customer_jwt.ts").read_text()
    block = script.split("// --- seed example: begin ---", 1)[1].split("// --- seed example: end ---", 1)[0].strip()
    assert block == example


def test_another_workspace_product_space_unknown_kid_and_expired_seed_tokens(api, signing):
    _, _, env = signing
    other = services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:10]}", product_space_name="Other")
    good, other_workspace, other_product_space, unknown_kid, expired = seed_tokens(
        env,
        {},
        {"CUSTOMER_WORKSPACE_ID": other.code},
        {"CUSTOMER_PRODUCT_SPACE_CODE": other.product_spaces.get().code},
        {"CUSTOMER_SIGNING_KEY_ID": str(uuid.uuid4())},
        {"CUSTOMER_JWT_EXPIRES_IN": "-2m"},
    )
    assert me(api, good).status_code == 200
    assert_refused(me(api, other_workspace), "wrong_workspace")
    assert_refused(me(api, other_product_space), "unknown_product_space")
    assert_refused(me(api, unknown_kid), "signing_key_unknown")
    assert_refused(me(api, expired), "token_expired")


def test_revoked_kid_is_401_at_once(api, signing):
    key, _, env = signing
    token = seed_token(env)
    assert me(api, token).status_code == 200
    services.signing_key_revoke(actor=CLI, key=CustomerSigningKey.objects.get(pk=key.kid))
    assert_refused(me(api, token), "signing_key_unknown")


def test_a_rotated_key_past_its_overlap_is_refused_as_expired_not_as_unknown(api, signing):
    key, _, env = signing
    token = seed_token(env)
    new_key, new_private = services.signing_key_rotate(
        actor=CLI, key=CustomerSigningKey.objects.get(pk=key.kid), overlap_seconds=1
    )
    assert me(api, token).status_code == 200  # within the overlap both keys verify
    old = CustomerSigningKey.objects.get(pk=key.kid)
    time.sleep(max(0.0, (old.expires_at - timezone.now()).total_seconds()) + 0.05)

    response = me(api, token)
    assert_refused(response, "signing_key_expired")
    assert "passed its end date" in response.json()["message"]
    new_env = parse_env_block(services.customer_env_block(key=new_key, private_pem=new_private, product_space=None))
    assert me(api, seed_token({**new_env, "CUSTOMER_UNIQUE_CUSTOMER_ID": "CUST-1"})).status_code == 200
    # Revoked and unknown keys keep their own reason.
    services.signing_key_revoke(actor=CLI, key=new_key)
    assert_refused(me(api, seed_token({**new_env, "CUSTOMER_UNIQUE_CUSTOMER_ID": "CUST-1"})), "signing_key_unknown")


def test_wrong_type_string_exp_and_missing_sub_are_401(api, signing):
    key, private_pem, env = signing
    assert me(api, rs256(private_pem, key.kid, claims(env))).status_code == 200
    assert_refused(me(api, rs256(private_pem, key.kid, claims(env, type="admin"))), "wrong_token_type")
    assert_refused(
        me(api, rs256(private_pem, key.kid, {k: v for k, v in claims(env).items() if k != "type"})), "wrong_token_type"
    )
    string_exp = claims(env, exp=str(int(time.time()) + 600))
    assert_refused(me(api, rs256(private_pem, key.kid, string_exp)), "invalid_claims")
    no_sub = {k: v for k, v in claims(env).items() if k != "sub"}
    assert_refused(me(api, rs256(private_pem, key.kid, no_sub)), "invalid_claims")
    for far_future in (253402300800, 10**20):  # year 10000; beyond any platform's time_t
        assert_refused(me(api, rs256(private_pem, key.kid, claims(env, exp=far_future))), "invalid_claims")
    # signed, but not storable as a customer id (PostgreSQL refuses NUL; a lone surrogate cannot be encoded)
    for sub in ("CUST\x001", "CUST\ud800"):
        assert_refused(me(api, rs256(private_pem, key.kid, claims(env, sub=sub))), "invalid_claims")
    for code in ("ABCD\x00EFG", env["CUSTOMER_PRODUCT_SPACE_CODE"] + "\n", env["CUSTOMER_PRODUCT_SPACE_CODE"].lower()):
        assert_refused(
            me(api, rs256(private_pem, key.kid, claims(env, product_space_code=code))), "unknown_product_space"
        )


def test_alg_none_and_hs256_with_the_public_key_are_401(api, signing):
    key, _, env = signing
    unsigned = jwt.encode(claims(env), None, algorithm="none", headers={"kid": str(key.kid)})
    assert_refused(me(api, unsigned), "algorithm_not_allowed")

    # The classic confusion attack: HMAC-SHA256 keyed with the (public) PEM the server holds.
    segments = [
        jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": str(key.kid)}).encode()),
        jwt.utils.base64url_encode(json.dumps(claims(env)).encode()),
    ]
    signing_input = b".".join(segments)
    mac = hmac.new(key.public_key_pem.encode(), signing_input, hashlib.sha256).digest()
    forged = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
    assert_refused(me(api, forged), "algorithm_not_allowed")


def test_oversized_and_malformed_tokens_are_401(api, signing):
    key, private_pem, env = signing
    huge = rs256(private_pem, key.kid, claims(env, padding="x" * 9000))
    assert_refused(me(api, huge), "token_too_large")
    assert_refused(me(api, "not-a-jwt"), "token_malformed")
    assert_refused(me(api, "eyJub3QganNvbg.e30.c2ln"), "token_malformed")  # header is not JSON
    token = rs256(private_pem, key.kid, claims(env))
    two = api.get("customer/me", headers={"Authorization": f"Bearer {token} {token}"})
    assert_refused(two, "malformed_authorization_header")


def test_no_token_or_an_api_token_is_not_a_customer(api, signing, api_key):
    response = api.get("customer/me")
    body = assert_error(response, 401, "not_authenticated", invalid_authentication=True)
    assert body["message"] == "This endpoint needs a customer JWT (Authorization: Bearer); none was sent."
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    api_token = api.get("user/apikeys/token", headers={"Api-Key": api_key}).json()["token"]
    body = assert_error(me(api, api_token), 401, "credentials_not_accepted", invalid_authentication=True)
    assert body["message"] == (
        "This endpoint accepts a customer JWT (Authorization: Bearer); the request sent "
        "an API token (Authorization: Bearer, minted from an API key), which it does not accept."
    )
