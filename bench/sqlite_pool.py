"""Does the pooled SQLite backend (authplatform/fastpaths/sqlite3) still earn its place?

``python -m bench.sqlite_pool [--requests N] [--rounds R]`` measures what it saves on the request
path: each "request" runs, as under ASGI, on a thread of its own, authenticates one API key (the
selector's one indexed lookup) and then closes its database connection as Django does when a request
finishes. It runs that for each setting in a subprocess of its own, on a temporary database file,
alternating the settings round by round, and prints a table of µs per request.

For comparison it runs the same loop on PostgreSQL when DATABASE_URL names one (Django's own pool,
psycopg_pool), so the embedded default can be weighed against the scale-out database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker(requests: int) -> None:
    """In the subprocess: set up a database, then time ``requests`` thread-per-request lookups."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authplatform.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from credentials import selectors, services
    from credentials.audit import CLI

    call_command("migrate", verbosity=0)
    workspace = services.workspace_create(actor=CLI, name=f"bench-{os.getpid()}", product_space_name="Main")
    user = services.api_user_create(
        actor=CLI, email=f"bench-{os.getpid()}@example.com", workspace=workspace, role="read"
    )
    _, key = services.api_key_create(actor=CLI, user=user)
    connection.close()

    def one_request() -> None:
        assert selectors.api_key_match(key=key) is not None
        connection.close()  # what request_finished does

    timings = []
    for _ in range(requests):
        thread = threading.Thread(target=one_request)
        started = time.perf_counter()
        thread.start()
        thread.join()
        timings.append((time.perf_counter() - started) * 1e6)
    print(json.dumps({"median_us": statistics.median(timings)}))


def run_one(env: dict[str, str], requests: int) -> float:
    result = subprocess.run(
        [sys.executable, "-m", "bench.sqlite_pool", "--worker", "--requests", str(requests)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["median_us"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.requests)

    with tempfile.TemporaryDirectory() as tmp:
        base = {"DEBUG": "1", "VAR_DIR": tmp, "REDIS_URL": ""}
        settings = {
            "SQLite, pooled (default)": {
                **base,
                "DATABASE_URL": f"sqlite:///{tmp}/pooled.sqlite3",
                "DATABASE_POOL": "1",
            },
            "SQLite, not pooled": {**base, "DATABASE_URL": f"sqlite:///{tmp}/plain.sqlite3", "DATABASE_POOL": "0"},
        }
        if os.environ.get("DATABASE_URL", "").startswith("postgres"):
            settings["PostgreSQL, Django's pool"] = {
                **base,
                "DATABASE_URL": os.environ["DATABASE_URL"],
                "DATABASE_POOL": "1",
            }
            settings["PostgreSQL, not pooled"] = {
                **base,
                "DATABASE_URL": os.environ["DATABASE_URL"],
                "DATABASE_POOL": "0",
            }
        results: dict[str, list[float]] = {name: [] for name in settings}
        for _ in range(args.rounds):  # interleaved, so a busy moment of the machine hits every setting
            for name, env in settings.items():
                results[name].append(run_one(env, args.requests))

    print(f"{args.requests} thread-per-request API-key lookups, {args.rounds} interleaved rounds")
    print("| setting | median µs/request | min | max |")
    print("|---|---:|---:|---:|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} |")


if __name__ == "__main__":
    main()
