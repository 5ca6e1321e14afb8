"""Signing keys for the revocation rows: ``python -m bench.revoke new N`` makes a new signing key in
the bench's workspace and prints ``{"kid", "tokens": [N customer JWTs]}``; ``python -m bench.revoke
revoke KID`` revokes it through ``credentials.services.signing_key_revoke`` (as the admin and the CLI
do: its signal publishes the end of the key's sessions) and prints ``{"returned_at": unix time, "bus",
"published"}`` (the live bus it published on, and how many publications reached it). ``revoke KID
--on-go`` first sets up (Django, the key read), prints ``{"ready": true}`` and revokes once a line
comes on stdin: the driver then measures from the revoke itself, not from this process's start-up."""

import json
import os
import sys
import time

import django


def main(argv: list[str]) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    import jwt

    from credentials import services
    from credentials.audit import CLI
    from credentials.models import CustomerSigningKey, Workspace

    if argv[0] == "new":
        workspace = Workspace.objects.get(name="bench")
        product_space = workspace.product_spaces.get()
        key, private_pem = services.signing_key_generate(
            actor=CLI, workspace=workspace, name=f"revoke-{time.time_ns()}"
        )
        now = int(time.time())
        tokens = [
            jwt.encode(
                {
                    "sub": f"bench-customer-{i:05d}",
                    "type": "customer",
                    "workspace_id": workspace.code,
                    "product_space_code": product_space.code,
                    "iat": now,
                    "exp": now + 2 * 3600,
                },
                private_pem,
                algorithm="RS256",
                headers={"kid": str(key.kid)},
            )
            for i in range(int(argv[1]))
        ]
        return {"kid": str(key.kid), "tokens": tokens}
    from authplatform.bus import bus

    key = CustomerSigningKey.objects.get(pk=argv[1])
    if "--on-go" in argv[2:]:
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
    services.signing_key_revoke(actor=CLI, key=key, reason="bench")
    returned_at = time.time()
    # Published over Redis by the time the call returns (no event loop here: redis-py's synchronous
    # client). Without REDIS_URL the in-process bus drops it, and only the servers' periodic
    # signing-key recheck would end the sessions: the driver refuses to time that.
    return {"returned_at": returned_at, "bus": type(bus).__name__, "published": bus.stats.published}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
