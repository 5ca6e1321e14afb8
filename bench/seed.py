"""Create the bench's database and credentials; print them as one JSON object.

Run as ``python -m bench.seed N_CUSTOMERS`` with the bench environment (bench/servers.py). Everything is
made through the project's own services with the command-line actor, as an operator would.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

import django


def main(n_customers: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.core.management import call_command
    from rest_framework_api_key.models import APIKey
    from rest_framework_simplejwt.tokens import AccessToken

    from credentials import hashing, services
    from credentials.audit import CLI
    from credentials.models import LEGACY_API_KEY_LENGTH, Role

    call_command("migrate", verbosity=0, interactive=False)

    workspace = services.workspace_create(actor=CLI, name="bench", product_space_name="bench")
    product_space = workspace.product_spaces.get()
    client, client_secret = services.client_create(actor=CLI, workspace=workspace, name="bench")
    signing_key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace, name="bench")
    user = services.api_user_create(actor=CLI, email="bench@example.com", workspace=workspace, role=Role.WRITE)
    api_key, api_key_plain = services.api_key_create(actor=CLI, user=user, comment="bench")
    legacy_plain = hashing.random_base62(LEGACY_API_KEY_LENGTH)
    services.api_key_import_legacy(actor=CLI, user=user, key=legacy_plain, comment="bench legacy")
    rotate = getattr(services, "platform_token_key_rotate", None)
    if rotate is not None:  # the key that signs API tokens (minted over HTTP by the bench)
        rotate(actor=CLI, reason="bench")

    _, peer_api_key = APIKey.objects.create_key(name="bench")
    peer_jwt = str(AccessToken.for_user(user))

    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    kid = str(signing_key.kid)
    now = int(time.time())

    def customer_token(sub: str, *, key=private_key, kid=kid) -> str:
        claims = {
            "sub": sub,
            "type": "customer",
            "workspace_id": workspace.code,
            "product_space_code": product_space.code,
            "iat": now,
            "exp": now + 2 * 3600,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    customers = [f"bench-customer-{i:05d}" for i in range(n_customers)]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "workspace_code": workspace.code,
        "product_space_code": product_space.code,
        "client_key": client.client_key,
        "client_secret": client_secret,
        "api_key": api_key_plain,
        "api_key_legacy": legacy_plain,
        "kid": kid,
        "public_key_pem": signing_key.public_key_pem,
        "customers": customers,
        "customer_tokens": [customer_token(c) for c in customers],
        # Misses for the in-process row: same kid, another key's signature; and a kid nobody knows.
        "customer_token_bad_signature": customer_token("bench-miss", key=other_key),
        "customer_token_unknown_kid": customer_token("bench-miss", kid=str(uuid.uuid4())),
        "peer_drf_api_key": peer_api_key,
        "peer_simplejwt": peer_jwt,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)))
