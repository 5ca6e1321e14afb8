"""A database dump holds no usable credential.

One credential of each kind is made through the services, committed, and the whole test database is
dumped as an operator would back it up: on SQLite the SQL text of ``iterdump()`` plus the raw database
file; on PostgreSQL ``pg_dump``. No plaintext secret, API key, private key or raw platform key may occur
in it, in any form we can think of. The digests and the public key must occur, so a dump that silently
missed the credential tables would fail this test instead of passing it.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.db import connection

from credentials import hashing, services
from credentials.audit import Actor
from credentials.models import ApiKey, ClientSecret

SHORTEST_NEEDLE = 8  # shorter fragments (a PEM's last line can be 4 chars) could occur by chance


def dump_database() -> bytes:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        sql = "\n".join(connection.connection.iterdump()).encode()
        path = Path(settings["NAME"])
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
        return sql + b"\n" + b"".join(f.read_bytes() for f in files if f.exists())
    assert connection.vendor == "postgresql", connection.vendor
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    command = [
        "pg_dump",
        "--no-password",
        "--dbname",
        settings["NAME"],
        "--host",
        settings.get("HOST") or "127.0.0.1",
        "--port",
        str(settings.get("PORT") or 5432),
    ]
    if settings.get("USER"):
        command += ["--username", settings["USER"]]
    result = subprocess.run(command, capture_output=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def forms_of(raw: bytes) -> list[bytes]:
    """Raw bytes as they might be written: as is, hex (either case), base64 (either alphabet, padded or not)."""
    encoded = [
        raw,
        raw.hex().encode(),
        raw.hex().upper().encode(),
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
    ]
    return encoded + [e.rstrip(b"=") for e in encoded[3:]]


def pem_body_lines(pem: str) -> list[str]:
    return [line for line in pem.strip().splitlines() if not line.startswith("-----") and len(line) >= SHORTEST_NEEDLE]


def test_database_dump_contains_no_usable_credential(transactional_db):
    actor = Actor(via="cli")
    workspace = services.workspace_create(actor=actor, name="dump-test", product_space_name="Web")
    client, client_secret = services.client_create(actor=actor, workspace=workspace)
    user = services.api_user_create(actor=actor, email="dump@example.com")
    api_key, api_key_plaintext = services.api_key_create(actor=actor, user=user)
    legacy_plaintext = hashing.random_base62(32)
    legacy_key = services.api_key_import_legacy(actor=actor, user=user, key=legacy_plaintext)
    signing_key, private_pem = services.signing_key_generate(actor=actor, workspace=workspace)
    platform_key = services.platform_token_key_rotate(actor=actor)
    platform_raw = hashing.decrypt_secret(platform_key.encrypted_secret)

    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    private_der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_exponent = private_key.private_numbers().d.to_bytes(256, "big")

    secrets_and_forms: dict[str, list[bytes]] = {
        "client secret": [client_secret.encode(), client_secret[3:].encode()],  # with and without "cs_"
        "API key": [api_key_plaintext.encode(), api_key_plaintext[32:].encode()],  # the part after the UUID
        "legacy API key": [legacy_plaintext.encode()],
        "private key PEM": [line.encode() for line in pem_body_lines(private_pem)],
        "private key DER": [private_der],
        "private exponent": forms_of(private_exponent),
        "platform token key": forms_of(platform_raw),
    }
    must_be_there: dict[str, list[bytes]] = {
        "client secret digest": [ClientSecret.objects.get(client=client).digest.encode()],
        "API key digest": [ApiKey.objects.get(pk=api_key.pk).digest.encode()],
        "legacy key digest": [legacy_key.digest.encode()],
        "public key": [line.encode() for line in pem_body_lines(signing_key.public_key_pem)],
        "encrypted platform key": [platform_key.encrypted_secret.encode()],
    }

    dump = dump_database()

    leaked = {name: sum(form in dump for form in forms) for name, forms in secrets_and_forms.items()}
    assert leaked == dict.fromkeys(secrets_and_forms, 0), f"plaintext found in the {connection.vendor} dump"
    missing = {name: sum(form not in dump for form in forms) for name, forms in must_be_there.items()}
    assert missing == dict.fromkeys(must_be_there, 0), f"the {connection.vendor} dump misses stored data"
