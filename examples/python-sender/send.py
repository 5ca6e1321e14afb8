"""Server to server: send an in-app message with the client key + secret, safely retried.

The Idempotency-Key makes a retry harmless: the same key with the same body within 24 hours is not
stored again, and its answer is the first one's, with ``Idempotent-Replayed: true``. This script sends
once, then sends again with the same key as a retry after a lost answer would, and prints each answer
as one JSON line.

Environment: PLATFORM_URL, CLIENT_KEY, CLIENT_SECRET, PRODUCT_SPACE_CODE, RECIPIENTS (comma-separated
customer ids, each a customer JWT's `sub`); optional TITLE, BODY, CATEGORY, IDEMPOTENCY_KEY.
"""

import json
import os
import sys
import uuid

import httpx


def main() -> int:
    env = os.environ
    missing = [
        name
        for name in ("PLATFORM_URL", "CLIENT_KEY", "CLIENT_SECRET", "PRODUCT_SPACE_CODE", "RECIPIENTS")
        if not env.get(name)
    ]
    if missing:
        print(f"Set {', '.join(missing)} (examples/python-sender/README.md).", file=sys.stderr)
        return 2
    message = {
        "product_space_code": env["PRODUCT_SPACE_CODE"],
        "recipients": [r.strip() for r in env["RECIPIENTS"].split(",") if r.strip()],
        "title": env.get("TITLE", "Your invoice is ready"),
        "body": env.get("BODY", "Invoice 2024-001 is ready to download."),
        "category": env.get("CATEGORY", "billing"),
    }
    # One key per message you mean to send, kept with it until it is acknowledged; every retry reuses it.
    idempotency_key = env.get("IDEMPOTENCY_KEY") or str(uuid.uuid4())
    headers = {
        "x-client-key": env["CLIENT_KEY"],
        "x-client-secret": env["CLIENT_SECRET"],
        "Idempotency-Key": idempotency_key,
    }
    with httpx.Client(base_url=env["PLATFORM_URL"].rstrip("/") + "/api/v1/", headers=headers, timeout=10) as api:
        for attempt in (1, 2):  # the second is the retry
            response = api.post("in-app-messages", json=message)
            if response.status_code != 202:
                print(f"attempt {attempt}: {response.status_code} {response.text}", file=sys.stderr)
                return 1
            print(
                json.dumps(
                    {
                        "attempt": attempt,
                        "status": response.status_code,
                        "idempotent_replayed": response.headers.get("Idempotent-Replayed") == "true",
                        "message": response.json(),
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
