"""The fan-out's send call, in a process of its own: ``python -m bench.sender`` (started by bench/sioload.py).

Each line on stdin is a trigger (``{"url", "headers", "json"}``); for each, one POST, and one line on
stdout: ``{"t0": perf_counter before the request, "response_ms", "status", "body"}``. ``t0`` is
CLOCK_MONOTONIC (``time.perf_counter`` on Linux), the clock the load generator stamps its sockets'
messages with, so the fan-out is still timed from the request.

Why not from the load generator: its one event loop also reads the 1,000 sockets' messages, which
arrive while the answer is on its way, so it read the 202 only after most of them and timed that
work as the server's. A customer's backend calling the send API is not the process holding its
users' sockets.
"""

from __future__ import annotations

import json
import sys
import time

import httpx


def main() -> None:
    with httpx.Client(timeout=60) as http:
        for line in sys.stdin:
            trigger = json.loads(line)
            t0 = time.perf_counter()
            resp = http.post(trigger["url"], headers=trigger.get("headers", {}), json=trigger["json"])
            response_ms = (time.perf_counter() - t0) * 1000
            body = resp.text[:300] if resp.status_code >= 300 else ""
            sys.stdout.write(
                json.dumps({"t0": t0, "response_ms": response_ms, "status": resp.status_code, "body": body}) + "\n"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
