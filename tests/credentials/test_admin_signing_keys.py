"""Admin: customer signing keys (generate, upload, revoke) and platform token keys (rotate, revoke)."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.files.uploadedfile import SimpleUploadedFile

from credentials import services
from credentials.audit import CLI
from credentials.models import AuditEvent, AuditOutcome, CustomerSigningKey, PlatformTokenKey, SigningKeySource
from credentials.selectors import platform_token_key_current, signing_key_get_active
from tests.credentials.test_admin_support import (  # noqa: F401 (fixtures)
    admin_page,
    admin_user,
    assert_audited,
    assert_nowhere_else,
    assert_show_once_page,
    run_action,
    shown_secrets,
    submit,
    workspace,
)
from tokens.customer_jwt import customer_jwt_verify

pytestmark = pytest.mark.django_db


def rsa_key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def parse_env_block(block: str) -> dict[str, str]:
    """NAME="value" lines, as a .env loader reads them."""
    env = {}
    for line in block.strip().splitlines():
        name, _, value = line.partition("=")
        assert value.startswith('"') and value.endswith('"'), line
        env[name] = value[1:-1]
    return env


def normalize_private_key(value: str) -> str:
    """The seed document's normalizePrivateKey."""
    return value.replace("\\n", "\n") if "\\n" in value else value


# --- generate -----------------------------------------------------------------------------------
def test_generate_signing_key_shows_private_key_and_env_block_once(admin_client, admin_user, workspace):
    page = admin_client.get(admin_page(CustomerSigningKey, "add") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "customersigningkey_form", name="backend 2025")

    assert_show_once_page(response)
    key = CustomerSigningKey.objects.get(workspace=workspace)
    assert key.source == SigningKeySource.GENERATED and key.name == "backend 2025"
    private_key_pem, env_block = shown_secrets(response)
    assert private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")

    # The private key signs tokens the stored public key verifies; only the public key is stored.
    token = jwt.encode(
        {"sub": "CUSTOMER3", "exp": int(time.time()) + 60},
        private_key_pem,
        algorithm="RS256",
        headers={"kid": str(key.kid)},
    )
    assert jwt.decode(token, key.public_key_pem, algorithms=["RS256"])["sub"] == "CUSTOMER3"
    assert "PRIVATE" not in key.public_key_pem
    body = private_key_pem.strip().splitlines()[1]
    assert not any(body in str(value) for value in CustomerSigningKey.objects.values_list())

    # The CUSTOMER_* block of the seed: the workspace's first product space by default.
    env = parse_env_block(env_block)
    assert list(env) == [
        "CUSTOMER_JWT_PRIVATE_KEY",
        "CUSTOMER_SIGNING_KEY_ID",
        "CUSTOMER_UNIQUE_CUSTOMER_ID",
        "CUSTOMER_WORKSPACE_ID",
        "CUSTOMER_PRODUCT_SPACE_CODE",
        "CUSTOMER_JWT_EXPIRES_IN",
    ]
    assert "\n" not in env["CUSTOMER_JWT_PRIVATE_KEY"]
    assert normalize_private_key(env["CUSTOMER_JWT_PRIVATE_KEY"]).strip() == private_key_pem.strip()
    assert env["CUSTOMER_SIGNING_KEY_ID"] == str(key.kid)
    assert env["CUSTOMER_WORKSPACE_ID"] == workspace.code
    assert env["CUSTOMER_PRODUCT_SPACE_CODE"] == workspace.product_spaces.get(name="web").code

    # A token made from the block as the seed's TypeScript example makes it is accepted by the platform.
    customer_token = jwt.encode(
        {
            "type": "customer",
            "workspace_id": env["CUSTOMER_WORKSPACE_ID"],
            "product_space_code": env["CUSTOMER_PRODUCT_SPACE_CODE"],
            "sub": "CUSTOMER3",
            "exp": int(time.time()) + 900,
            "jti": "customer-CUSTOMER3-1",
        },
        normalize_private_key(env["CUSTOMER_JWT_PRIVATE_KEY"]),
        algorithm="RS256",
        headers={"kid": env["CUSTOMER_SIGNING_KEY_ID"]},
    )
    assert customer_jwt_verify(customer_token).customer_id == "CUSTOMER3"

    assert_audited("signing_key.generate", by=admin_user, target=key, secret=body)
    event = AuditEvent.objects.get(action="signing_key.generate")
    assert_nowhere_else(
        admin_client,
        body,
        admin_page(CustomerSigningKey),
        admin_page(CustomerSigningKey, "change", key.pk),
        admin_page(AuditEvent, "change", event.pk),
        shown_by=response,
    )


def test_generate_signing_key_for_a_chosen_product_space(admin_client, workspace):
    mobile = services.product_space_create(actor=CLI, workspace=workspace, name="mobile")
    page = admin_client.get(admin_page(CustomerSigningKey, "add") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "customersigningkey_form", product_space=str(mobile.pk))

    assert_show_once_page(response)
    _, env_block = shown_secrets(response)
    assert parse_env_block(env_block)["CUSTOMER_PRODUCT_SPACE_CODE"] == mobile.code


def test_product_space_of_another_workspace_is_refused(admin_client, workspace):
    other = services.workspace_create(actor=CLI, name="globex", product_space_name="app")
    page = admin_client.get(admin_page(CustomerSigningKey, "add"))
    response = submit(
        admin_client,
        page,
        "customersigningkey_form",
        workspace=str(workspace.pk),
        product_space=str(other.product_spaces.get().pk),
    )

    assert response.status_code == 200 and "This product space is not in" in response.content.decode()
    assert not shown_secrets(response)
    assert not CustomerSigningKey.objects.exists()


# --- upload -------------------------------------------------------------------------------------
def test_upload_public_key_pasted(admin_client, admin_user, workspace):
    private_key = rsa_key()
    page = admin_client.get(admin_page(CustomerSigningKey, "upload") + f"?workspace={workspace.pk}")
    response = submit(
        admin_client, page, "customersigningkey_form", name="theirs", public_key_pem=public_pem(private_key)
    )

    key = CustomerSigningKey.objects.get(workspace=workspace)
    assert response.status_code == 302 and response["Location"] == admin_page(CustomerSigningKey, "change", key.pk)
    assert key.source == SigningKeySource.UPLOADED and key.public_key_pem.strip() == public_pem(private_key).strip()
    token = jwt.encode({"sub": "c", "exp": int(time.time()) + 60}, private_key, algorithm="RS256")
    assert jwt.decode(token, key.public_key_pem, algorithms=["RS256"])["sub"] == "c"
    assert_audited("signing_key.upload", by=admin_user, target=key)


def test_upload_public_key_as_file(admin_client, admin_user, workspace):
    private_key = rsa_key()
    page = admin_client.get(admin_page(CustomerSigningKey, "upload"))
    upload = SimpleUploadedFile("public.pem", public_pem(private_key).encode(), content_type="application/x-pem-file")
    response = submit(
        admin_client, page, "customersigningkey_form", workspace=str(workspace.pk), public_key_file=upload
    )

    assert response.status_code == 302
    key = CustomerSigningKey.objects.get(workspace=workspace)
    assert key.public_key_pem.strip() == public_pem(private_key).strip()
    assert_audited("signing_key.upload", by=admin_user, target=key)


@pytest.mark.parametrize(
    "pem, message",
    [
        ("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----", "This is not a PEM public key"),
        ("", "Paste or upload a PEM public key"),
        (public_pem(rsa_key(1024)), "The RSA key has 1024 bits; at least 2048 are required."),
        (public_pem(ec.generate_private_key(ec.SECP256R1())), "the key must be an RSA key"),
    ],
)
def test_bad_public_key_is_refused_and_changes_nothing(admin_client, admin_user, workspace, pem, message):
    page = admin_client.get(admin_page(CustomerSigningKey, "upload") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "customersigningkey_form", public_key_pem=pem)

    assert response.status_code == 200 and message in response.content.decode()
    assert not CustomerSigningKey.objects.exists()
    assert_audited("signing_key.upload", by=admin_user, target=workspace, outcome=AuditOutcome.FAILURE)


def test_pasted_private_key_is_refused_and_not_shown_back(admin_client, admin_user, workspace):
    pasted = private_pem(rsa_key())
    page = admin_client.get(admin_page(CustomerSigningKey, "upload") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "customersigningkey_form", public_key_pem=pasted)

    assert response.status_code == 200
    assert "This is a private key. Upload only the public key" in response.content.decode()
    assert pasted.splitlines()[1] not in response.content.decode()
    assert not CustomerSigningKey.objects.exists()
    event = assert_audited("signing_key.upload", by=admin_user, target=workspace, outcome=AuditOutcome.FAILURE)
    assert pasted.splitlines()[1] not in str(event.details)


def test_same_public_key_twice_is_refused(admin_client, workspace):
    pem = public_pem(rsa_key())
    services.signing_key_register(actor=CLI, workspace=workspace, public_key_pem=pem)
    page = admin_client.get(admin_page(CustomerSigningKey, "upload") + f"?workspace={workspace.pk}")
    response = submit(admin_client, page, "customersigningkey_form", public_key_pem=pem)

    assert "This public key is already registered for this workspace." in response.content.decode()
    assert CustomerSigningKey.objects.count() == 1


def test_paste_and_file_together_are_refused(admin_client, workspace):
    pem = public_pem(rsa_key())
    page = admin_client.get(admin_page(CustomerSigningKey, "upload") + f"?workspace={workspace.pk}")
    response = submit(
        admin_client,
        page,
        "customersigningkey_form",
        public_key_pem=pem,
        public_key_file=SimpleUploadedFile("k.pem", pem.encode()),
    )

    assert "Paste the key or choose a file, not both." in response.content.decode()
    assert not CustomerSigningKey.objects.exists()


# --- revoke -------------------------------------------------------------------------------------
def test_revoke_signing_key(admin_client, admin_user, workspace):
    kept, _ = services.signing_key_generate(actor=CLI, workspace=workspace)
    revoked, _ = services.signing_key_generate(actor=CLI, workspace=workspace)

    response = run_action(admin_client, CustomerSigningKey, "revoke", [revoked], reason="compromised")

    assert response.status_code == 302
    revoked.refresh_from_db()
    assert revoked.state() == "revoked" and revoked.revoked_reason == "compromised"
    assert signing_key_get_active(kid=str(revoked.kid)) is None
    assert signing_key_get_active(kid=str(kept.kid)) == kept  # several keys overlap; the other still works
    assert_audited("signing_key.revoke", by=admin_user, target=revoked)

    listing = admin_client.get(admin_page(CustomerSigningKey) + "?status=active&source__exact=generated")
    assert list(listing.context["cl"].result_list) == [kept]


# --- platform token keys ------------------------------------------------------------------------
def test_rotate_platform_token_key(admin_client, admin_user):
    first = services.platform_token_key_rotate(actor=CLI)
    page = admin_client.get(admin_page(PlatformTokenKey, "add"))
    assert "Rotate platform token key" in page.content.decode()

    response = submit(admin_client, page, "platformtokenkey_form", reason="quarterly")

    assert response.status_code == 302
    new = platform_token_key_current()
    assert new is not None and new.pk != first.pk
    first.refresh_from_db()
    assert first.retired_at is not None and first.state() == "active"  # still verifies its tokens
    event = assert_audited("platform_token_key.rotate", by=admin_user, target=new)
    assert event.details == {"retired": [first.kid], "reason": "quarterly"}

    listing = admin_client.get(admin_page(PlatformTokenKey)).content.decode()
    assert new.kid in listing and "Rotate platform token key" in listing
    assert new.encrypted_secret not in listing
    assert new.encrypted_secret not in admin_client.get(admin_page(PlatformTokenKey, "change", new.pk)).content.decode()


def test_revoke_platform_token_key(admin_client, admin_user):
    key = services.platform_token_key_rotate(actor=CLI)

    response = run_action(admin_client, PlatformTokenKey, "revoke", [key], reason="leaked")

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.state() == "revoked" and key.retired_at is not None and key.revoked_by == admin_user
    assert platform_token_key_current() is None
    assert_audited("platform_token_key.revoke", by=admin_user, target=key)

    response = run_action(admin_client, PlatformTokenKey, "revoke", [key], reason="again")
    assert "This key is already revoked." in response.content.decode()
    assert_audited("platform_token_key.revoke", by=admin_user, target=key, outcome=AuditOutcome.FAILURE)
