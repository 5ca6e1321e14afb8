"""The bootstrap commands of docs/design.md: the JSON contract scripts rely on, the summary people read, and
refusals that exit non-zero and change nothing.

The customer-JWT test signs with the real `jsonwebtoken` package exactly as the first seed document
does, from the `env` block createsigningkey prints, and verifies the token with PyJWT against the stored
public key: the block is proven usable, not just well-formed.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.management import CommandError, call_command

from credentials import selectors
from credentials.models import (
    ApiKey,
    AuditEvent,
    AuditOutcome,
    Client,
    ClientSecret,
    CustomerSigningKey,
    Membership,
    ProductSpace,
    SigningKeySource,
    User,
    Workspace,
)
from tests.live import ROOT, database_url_for_tests, run_node

pytestmark = pytest.mark.django_db

CODE = re.compile(r"^[A-Z0-9]{8}$")
ENV_LINE = re.compile(r'^(?P<name>[A-Z_]+)="(?P<value>[^"\n]*)"$')
ENV_NAMES = [
    "CUSTOMER_JWT_PRIVATE_KEY",
    "CUSTOMER_SIGNING_KEY_ID",
    "CUSTOMER_UNIQUE_CUSTOMER_ID",
    "CUSTOMER_WORKSPACE_ID",
    "CUSTOMER_PRODUCT_SPACE_CODE",
    "CUSTOMER_JWT_EXPIRES_IN",
]
STORED_MODELS = [Workspace, ProductSpace, Client, ClientSecret, User, Membership, ApiKey, CustomerSigningKey]


# --- helpers -------------------------------------------------------------------------------------
def run(*args: str) -> str:
    """call_command, returning what it printed on stdout."""
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(*args: str) -> dict:
    out = run(*args, "--json")
    assert len(out.strip().splitlines()) == 1, out  # exactly one JSON object on one line
    return json.loads(out)


def stored_rows() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in STORED_MODELS}


def assert_refused(*args: str, message: str) -> CommandError:
    """The command fails with a one-line CommandError containing ``message`` and stores nothing."""
    before = stored_rows()
    with pytest.raises(CommandError) as raised:
        run(*args)
    text = str(raised.value)
    assert message in text and "\n" not in text, text
    assert stored_rows() == before
    return raised.value


def parse_env_block(block: str) -> dict[str, str]:
    lines = block.splitlines()
    assert block.endswith("\n") and all(ENV_LINE.match(line) for line in lines), block
    return {m["name"]: m["value"] for m in map(ENV_LINE.match, lines)}


def pem_file(tmp_path, text: str, name: str = "key.pem"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def workspace_code() -> str:
    return run_json("createworkspace", "acme-prod", "--product-space", "Web")["workspace_id"]


# --- createworkspace -----------------------------------------------------------------------------
def test_createworkspace_json():
    data = run_json("createworkspace", "acme-prod", "--product-space", "Web", "--display-name", "Acme")

    assert set(data) == {"workspace_id", "name", "product_space_code"}
    assert CODE.match(data["workspace_id"]) and CODE.match(data["product_space_code"])
    workspace = Workspace.objects.get(code=data["workspace_id"])
    assert data["name"] == workspace.name == "acme-prod" and workspace.display_name == "Acme"
    assert list(workspace.product_spaces.values_list("code", "name")) == [(data["product_space_code"], "Web")]
    event = AuditEvent.objects.get(action="workspace.create")
    assert (event.via, event.actor_label, event.target_id) == ("cli", "system (cli)", str(workspace.pk))


def test_createworkspace_without_product_space_reports_none():
    data = run_json("createworkspace", "bare")
    assert data["product_space_code"] is None
    assert not ProductSpace.objects.exists()


def test_createworkspace_summary_is_readable():
    out = run("createworkspace", "acme-prod", "--product-space", "Web")
    workspace = Workspace.objects.get()
    assert "Workspace acme-prod created" in out
    assert workspace.code in out and workspace.product_spaces.get().code in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_createworkspace_refuses_a_duplicate_or_invalid_name(workspace_code):
    assert_refused("createworkspace", "acme-prod", message="already exists")
    failure = AuditEvent.objects.filter(action="workspace.create", outcome=AuditOutcome.FAILURE).get()
    assert failure.via == "cli"
    assert_refused("createworkspace", "not a slug", message="slug")
    assert_refused("createworkspace", "ok-name", "--product-space", "x" * 201, message="at most 200")


# --- createclient --------------------------------------------------------------------------------
def test_createclient_json_secret_authenticates(workspace_code):
    data = run_json("createclient", "--workspace", workspace_code.lower(), "--name", "backend")

    assert set(data) == {"client_key", "client_secret"}
    client = Client.objects.get(client_key=data["client_key"])
    assert (client.workspace.code, client.name) == (workspace_code, "backend")
    secret = selectors.client_secret_match(client_key=data["client_key"], client_secret=data["client_secret"])
    assert secret is not None and secret.client == client
    assert data["client_secret"] not in secret.digest


def test_createclient_summary_shows_the_secret_once(workspace_code):
    out = run("createclient", "--workspace", workspace_code)
    client = Client.objects.get()
    secret = re.search(r"x-client-secret: (\S+)", out)[1]
    assert client.client_key in out and "Shown only now" in out
    assert selectors.client_secret_match(client_key=client.client_key, client_secret=secret) is not None


def test_createclient_refuses_an_unknown_workspace(workspace_code):
    assert_refused("createclient", "--workspace", "ZZZZZZZZ", message="No workspace has the code 'ZZZZZZZZ'")
    assert_refused("createclient", "--workspace", "ZZZZZZZZ", "--name", "x" * 201, message="No workspace")
    assert_refused("createclient", "--workspace", workspace_code, "--name", "x" * 201, message="at most 200")


def test_createclient_needs_a_workspace():
    with pytest.raises(CommandError, match="--workspace"):
        run("createclient")


# --- createsigningkey ----------------------------------------------------------------------------
def test_createsigningkey_generates_and_prints_the_env_block(workspace_code):
    data = run_json("createsigningkey", "--workspace", workspace_code, "--name", "backend 2025")

    assert set(data) == {"kid", "private_key_pem", "env"}
    key = CustomerSigningKey.objects.get(kid=data["kid"])
    private_key = serialization.load_pem_private_key(data["private_key_pem"].encode(), password=None)
    assert key.public_key_pem == public_pem(private_key)
    assert (key.source, key.name, key.workspace.code) == (SigningKeySource.GENERATED, "backend 2025", workspace_code)

    env = parse_env_block(data["env"])
    assert list(env) == ENV_NAMES
    assert env["CUSTOMER_JWT_PRIVATE_KEY"] == data["private_key_pem"].strip().replace("\n", "\\n")
    assert env["CUSTOMER_SIGNING_KEY_ID"] == data["kid"]
    assert env["CUSTOMER_WORKSPACE_ID"] == workspace_code
    assert env["CUSTOMER_PRODUCT_SPACE_CODE"] == ProductSpace.objects.get(name="Web").code  # the first one
    assert env["CUSTOMER_UNIQUE_CUSTOMER_ID"].startswith("REPLACE_WITH")
    assert env["CUSTOMER_JWT_EXPIRES_IN"] == "15m"


def test_createsigningkey_uses_the_given_product_space(workspace_code):
    workspace = Workspace.objects.get(code=workspace_code)
    mobile = workspace.product_spaces.create(code="MOBILE01", name="Mobile")
    data = run_json("createsigningkey", "--workspace", workspace_code, "--product-space", mobile.code.lower())
    assert parse_env_block(data["env"])["CUSTOMER_PRODUCT_SPACE_CODE"] == "MOBILE01"


def test_createsigningkey_summary_shows_private_key_and_env_once(workspace_code):
    out = run("createsigningkey", "--workspace", workspace_code)
    key = CustomerSigningKey.objects.get()
    assert str(key.kid) in out and "Shown only now" in out
    assert "-----BEGIN PRIVATE KEY-----" in out and f'CUSTOMER_SIGNING_KEY_ID="{key.kid}"' in out
    assert "PRIVATE" not in key.public_key_pem


def test_createsigningkey_registers_a_public_key(workspace_code, tmp_path):
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = run_json(
        "createsigningkey",
        "--workspace",
        workspace_code,
        "--public-key",
        pem_file(tmp_path, public_pem(private_key)),
        "--name",
        "theirs",
    )

    assert set(data) == {"kid"}
    key = CustomerSigningKey.objects.get(kid=data["kid"])
    assert (key.source, key.name) == (SigningKeySource.UPLOADED, "theirs")
    assert key.public_key_pem == public_pem(private_key)

    out = run(
        "createsigningkey",
        "--workspace",
        workspace_code,
        "--public-key",
        pem_file(tmp_path, public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))),
    )
    assert "Public key registered" in out and str(CustomerSigningKey.objects.exclude(pk=key.pk).get().kid) in out


def test_createsigningkey_refuses_bad_input(workspace_code, tmp_path):
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    elliptic = ec.generate_private_key(ec.SECP256R1())
    other = run_json("createworkspace", "other", "--product-space", "Elsewhere")
    registered = pem_file(tmp_path, public_pem(private_key), "registered.pem")
    run("createsigningkey", "--workspace", workspace_code, "--public-key", registered)
    key_args = ("createsigningkey", "--workspace", workspace_code, "--public-key")

    assert_refused("createsigningkey", "--workspace", "ZZZZZZZZ", message="No workspace has the code")
    assert_refused(
        "createsigningkey",
        "--workspace",
        workspace_code,
        "--product-space",
        "ZZZZZZZZ",
        message="has no product space with the code 'ZZZZZZZZ'",
    )
    assert_refused(
        "createsigningkey",
        "--workspace",
        workspace_code,
        "--product-space",
        other["product_space_code"],
        message="has no product space",
    )
    assert_refused(
        *key_args,
        registered,
        "--product-space",
        other["product_space_code"],
        message="--product-space only fills the env block",
    )
    assert_refused(*key_args, str(tmp_path / "missing.pem"), message="Cannot read the public key file")
    (tmp_path / "binary.der").write_bytes(b"\x30\x82\xff\xfe")
    assert_refused(*key_args, str(tmp_path / "binary.der"), message="not a PEM text file")
    assert_refused(*key_args, pem_file(tmp_path, private_pem, "private.pem"), message="This is a private key")
    assert_refused(
        *key_args,
        pem_file(tmp_path, "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"),
        message="not a PEM public key",
    )
    assert_refused(*key_args, pem_file(tmp_path, public_pem(small)), message="1024 bits")
    assert_refused(*key_args, pem_file(tmp_path, public_pem(elliptic)), message="must be an RSA key")
    assert_refused(*key_args, registered, message="already registered")

    failures = AuditEvent.objects.filter(action="signing_key.upload", outcome=AuditOutcome.FAILURE)
    assert failures.count() == 5 and {e.via for e in failures} == {"cli"}


# --- createapiuser -------------------------------------------------------------------------------
def test_createapiuser_json_key_authenticates(workspace_code):
    data = run_json("createapiuser", "Dev@Example.com", "--workspace", workspace_code, "--role", "write")

    assert set(data) == {"user_id", "api_key"}
    user = User.objects.get(pk=data["user_id"])
    assert user.email == "Dev@Example.com" and not user.has_usable_password()
    assert list(user.memberships.values_list("workspace__code", "role")) == [(workspace_code, "write")]
    assert len(data["api_key"]) == 64
    assert selectors.api_key_match(key=data["api_key"]).user == user


def test_createapiuser_without_workspace_and_with_default_role(workspace_code):
    lone = run_json("createapiuser", "lone@example.com")
    assert not Membership.objects.filter(user_id=lone["user_id"]).exists()
    reader = run_json("createapiuser", "reader@example.com", "--workspace", workspace_code)
    assert Membership.objects.get(user_id=reader["user_id"]).role == "read"


def test_createapiuser_summary(workspace_code):
    out = run("createapiuser", "dev@example.com", "--workspace", workspace_code, "--role", "admin")
    api_key = re.search(r"API key: (\S+)", out)[1]
    assert f"role admin in workspace {workspace_code}" in out and "Shown only now" in out
    assert selectors.api_key_match(key=api_key).user.email == "dev@example.com"


def test_createapiuser_refuses_bad_input(workspace_code):
    run("createapiuser", "taken@example.com")

    assert_refused(
        "createapiuser",
        "new@example.com",
        "--workspace",
        workspace_code,
        "--role",
        "owner",
        message="Unknown role 'owner'",
    )
    assert_refused("createapiuser", "new@example.com", "--role", "admin", message="A role needs a workspace")
    assert_refused("createapiuser", "not-an-email", message="not a valid email address")
    assert_refused("createapiuser", "TAKEN@example.com", message="already exists")
    assert_refused("createapiuser", "new@example.com", "--workspace", "ZZZZZZZZ", message="No workspace")

    failures = AuditEvent.objects.filter(action="api_user.create", outcome=AuditOutcome.FAILURE)
    assert failures.count() == 5  # the unknown workspace code too, audited by the command itself


# --- the env block signs a customer JWT with the seed's own code ---------------------------------
@pytest.mark.node
@pytest.mark.parametrize("delivery", ["env file", "environment variables"])
def test_env_block_signs_a_token_that_verifies_with_the_stored_key(workspace_code, tmp_path, delivery):
    """As the customer's backend would: paste the block into a .env file (dotenv turns the \\n escapes
    into newlines) or export the values verbatim (the seed's normalizePrivateKey turns them back)."""
    data = run_json("createsigningkey", "--workspace", workspace_code)
    block = data["env"].replace("REPLACE_WITH_YOUR_CUSTOMER_ID", "CUSTOMER3")

    if delivery == "env file":
        env_file = tmp_path / ".env"
        env_file.write_text(block)
        token = run_node("sign_customer_jwt.mjs", str(env_file))["token"]
    else:
        token = run_node("sign_customer_jwt.mjs", env=parse_env_block(block))["token"]

    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": data["kid"]}
    stored = CustomerSigningKey.objects.get(kid=header["kid"])
    claims = jwt.decode(
        token, stored.public_key_pem, algorithms=["RS256"], options={"require": ["exp", "iat", "sub", "jti"]}
    )
    assert claims["type"] == "customer" and claims["sub"] == "CUSTOMER3"
    assert claims["workspace_id"] == workspace_code
    assert claims["product_space_code"] == ProductSpace.objects.get(name="Web").code
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["jti"].startswith("customer-CUSTOMER3-")
    # and it is the stored key that makes it verify: another key does not
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, public_pem(stranger), algorithms=["RS256"])


# --- end to end through manage.py ----------------------------------------------------------------
def manage(*args: str) -> subprocess.CompletedProcess:
    """``python manage.py ...`` in a fresh process on the test database, as an operator's script runs it."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "SECRET_KEY": settings.SECRET_KEY,
        "AUTHPLATFORM_PEPPER": settings.AUTHPLATFORM["PEPPER"],
        "AUTHPLATFORM_KEY_ENCRYPTION_KEY": settings.AUTHPLATFORM["KEY_ENCRYPTION_KEY"],
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def manage_json(*args: str) -> dict:
    result = manage(*args, "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # scripts can json.loads the whole stdout
    return json.loads(lines[0])


def test_bootstrap_through_manage_py(transactional_db):
    workspace = manage_json("createworkspace", "acme-prod", "--product-space", "Web")
    client = manage_json("createclient", "--workspace", workspace["workspace_id"])
    signing = manage_json("createsigningkey", "--workspace", workspace["workspace_id"])
    api_user = manage_json(
        "createapiuser", "ci@example.com", "--workspace", workspace["workspace_id"], "--role", "write"
    )

    assert Workspace.objects.get(code=workspace["workspace_id"]).name == "acme-prod"
    assert selectors.client_secret_match(client_key=client["client_key"], client_secret=client["client_secret"])
    assert selectors.signing_key_get_active(kid=signing["kid"]).workspace.code == workspace["workspace_id"]
    assert parse_env_block(signing["env"])["CUSTOMER_PRODUCT_SPACE_CODE"] == workspace["product_space_code"]
    assert str(selectors.api_key_match(key=api_user["api_key"]).user_id) == api_user["user_id"]
    assert set(AuditEvent.objects.values_list("via", flat=True)) == {"cli"}

    before = stored_rows()
    refused = manage("createclient", "--workspace", "ZZZZZZZZ", "--json")
    assert refused.returncode != 0 and refused.stdout == ""
    assert refused.stderr.strip() == "CommandError: No workspace has the code 'ZZZZZZZZ'. Nothing was changed."
    refused = manage("createworkspace", "acme-prod", "--json")
    assert refused.returncode != 0 and refused.stdout == "" and "already exists" in refused.stderr
    assert stored_rows() == before


@pytest.mark.parametrize(
    "command, args, action",
    [
        ("createclient", ["--workspace", "ZZZZZZZZ"], "client.create"),
        ("createsigningkey", ["--workspace", "ZZZZZZZZ"], "signing_key.create"),
        ("createapiuser", ["someone@example.com", "--workspace", "ZZZZZZZZ", "--role", "read"], "api_user.create"),
    ],
)
def test_unknown_code_refusal_is_audited(command, args, action):
    """A refused admin action is audited even when it stops before any service runs."""
    assert_refused(command, *args, message="No workspace has the code 'ZZZZZZZZ'")
    event = AuditEvent.objects.get(action=action)
    assert (event.outcome, event.via, event.actor_label) == ("failure", "cli", "system (cli)")
    assert "ZZZZZZZZ" in event.details["errors"][0]


# --- messages that say what happened (admin issue: wrong words) ----------------------------------
def test_createclient_without_a_name_says_it_plainly(workspace_code):
    out = run("createclient", "--workspace", workspace_code)
    assert f'Created client "Client" in workspace {workspace_code}.' in out


def test_createsigningkey_refuses_a_workspace_without_product_space():
    bare = run_json("createworkspace", "bare")["workspace_id"]
    for args in ((), ("--json",)):
        assert_refused("createsigningkey", "--workspace", bare, *args, message="has no product space")
    assert not CustomerSigningKey.objects.exists()


def test_ensureadmin_names_the_address_it_was_given():
    out = run("ensureadmin", "--url", "http://127.0.0.1:8765/admin/")
    assert "Sign in at http://127.0.0.1:8765/admin/ and change it." in out
    assert "sign in at http://127.0.0.1:8765/admin/ with its password" in run(
        "ensureadmin", "--url", "http://127.0.0.1:8765/admin/"
    )
