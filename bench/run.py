"""The benchmark driver: ``python -m bench [--quick] [--profile] [--only GROUPS]``.

Starts real servers on free loopback ports, drives them from other processes (wrk for HTTP, the
bench/sioload.py client for sockets), and prints one markdown table, also written to
bench/results/latest.md and latest.json. Every figure in the table is measured in this run. Each line
is the median of >= 3 runs with their min and max; ratios are taken per run (two rows measured
side by side in the same round) and then summarised the same way.

A row whose feature has not landed yet prints ``n/a (not built yet)`` and the bench goes on: rows are
written against docs/design.md's contract, so they light up as the features arrive.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from bench import httpload
from bench.servers import (
    PYTHON,
    ROOT,
    BenchEnv,
    Server,
    daphne,
    raise_fd_limit,
    uvicorn_socketio,
    websockets_floor,
)

RESULTS = ROOT / "bench" / "results"
NOT_BUILT = "n/a (not built yet)"
OUR_SIO_PATH = "/api/v1/wss/socket.io/?EIO=4&transport=websocket"
PEER_SIO_PATH = "/socket.io/?EIO=4&transport=websocket"

MODES = {
    # `make bench`: the counts. About 13 minutes on the 2-core machine.
    # The connect deadline bounds one server's connect phase per run, so a slow connect rate cannot
    # push the run past 15 minutes; the table then says how many sockets got in. 80 s lets 10,000 in
    # at 125 connects/s (ours and python-socketio measured 150-200/s on the 2-core machine).
    "full": dict(
        runs=3,
        http_seconds=3.0,
        http_warmup=0.5,
        http_connections=8,
        verify_target_s=0.25,
        sockets=10_000,
        hold=60,
        socket_concurrency=50,
        connect_deadline=80,
        socket_warmup=20,
        fanout_customers=1000,
        fanout_runs=3,
        fanout_pause=0.5,
        api_sends=50,
        fresh_socket_servers=True,
        recovery_customers=1000,
        recovery_messages=3,
        recovery_runs=3,
        recovery_inbox_limit=20,
        recovery_concurrency=0,  # reconnects in flight; 0: all at once, as after a deploy
        inbox_items=100_000,  # issue 18: one customer's inbox
        inbox_counts_requests=200,
        inbox_bulk_requests=50,
        inbox_warmup=10,
    ),
    # `make bench-quick`: the same rows with small counts, under a minute; for development, not figures.
    # Servers are shared between rows and runs here (fresh per run in `full`).
    "quick": dict(
        runs=3,
        http_seconds=0.4,
        http_warmup=0.1,
        http_connections=8,
        verify_target_s=0.03,
        sockets=60,
        hold=1,
        socket_concurrency=50,
        connect_deadline=10,
        socket_warmup=3,
        fanout_customers=50,
        fanout_runs=3,
        fanout_pause=0.1,
        api_sends=5,
        fresh_socket_servers=False,
        recovery_customers=50,
        recovery_messages=3,
        recovery_runs=1,
        recovery_inbox_limit=20,
        recovery_concurrency=0,
        inbox_items=2_000,
        inbox_counts_requests=20,
        inbox_bulk_requests=10,
        inbox_warmup=3,
    ),
}
GROUPS = ("http", "verify", "fanout", "sockets", "recovery", "inbox", "revoke")


# --- figures -------------------------------------------------------------------------------------
def summary(values: list[float]) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def fmt(v: float | None) -> str:
    if v is None:
        return ""
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


@dataclass
class Line:
    """One line of the table: a figure (median/min/max over runs), optionally ratios and a goal."""

    row: str  # the row number(s)
    what: str
    unit: str = ""
    values: list[float] | None = None
    ratios: list[tuple[str, list[float]]] = field(default_factory=list)  # (label, per-run ratios)
    goal: str = ""
    met: bool | None = None  # None: no goal, or not decidable in this mode
    note: str = ""
    na: str = ""  # set: the line is not measured, and this says why

    def cells(self) -> list[str]:
        if self.na:
            return [self.row, self.what, self.na, "", "", self.unit, "", self.goal, "n/a", self.note]
        s = summary(self.values or [])
        if s is None:
            return [self.row, self.what, "no data", "", "", self.unit, "", self.goal, "n/a", self.note]
        ratio_text = "; ".join(
            f"{fmt(r['median'])}× {label} ({fmt(r['min'])}–{fmt(r['max'])})"
            for label, values in self.ratios
            if (r := summary(values))
        )
        met = "—" if self.met is None else ("✓" if self.met else "✗")
        return [
            self.row,
            self.what,
            fmt(s["median"]),
            fmt(s["min"]),
            fmt(s["max"]),
            self.unit,
            ratio_text,
            self.goal,
            met,
            self.note,
        ]


def ratio_list(a: list[float] | None, b: list[float] | None) -> list[float]:
    """Per-run ratios a[i] / b[i] (runs paired by index)."""
    if not a or not b:
        return []
    return [x / y for x, y in zip(a, b) if x is not None and y]


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # utime, stime (fields 14 and 15 of stat)


def cpu_spent(pids: list[int], before: list[tuple[float, float]], *, servers: int) -> dict:
    """CPU seconds each process spent since ``before`` (its ``cpu_times``), the first ``servers`` being
    servers and the rest load generators, in all and the system part (on loopback the kernel's TCP work
    is a good share of it)."""
    spent = [[b - a for a, b in zip(c, cpu_times(pid), strict=True)] for pid, c in zip(pids, before, strict=True)]
    total = [round(u + k, 2) for u, k in spent]
    system = [round(k, 2) for _, k in spent]
    return {
        "cpu_s": {"servers": total[:servers], "load_generators": total[servers:]},
        "cpu_sys_s": {"servers": system[:servers], "load_generators": system[servers:]},
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far."""
    return sum(sum(cpu_times(pid)) for pid in pids)


def redis_calls(url: str) -> int:
    """Commands Redis has run so far (INFO commandstats), not counting this INFO."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    # Not INFO (this call) nor HELLO (this client's connection): the bench's own, not the servers'.
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_hello"))


def merge_connected(parts: list[dict]) -> dict:
    """The load generators' ``connected`` reports as one: they connect side by side, so the rate is all
    their sockets over the slowest one's time."""
    ok = sum(c["ok"] for c in parts)
    seconds = max(c["seconds"] for c in parts)
    return {
        "ok": ok,
        "seconds": seconds,
        "rate": ok / seconds if seconds else 0,
        "errors": [c["errors"] for c in parts],
    }


def merge_revoked(parts: list[dict]) -> dict:
    """The load generators' ``revoked`` reports as one, keeping each (``per_process``)."""
    codes: Counter = Counter()
    for part in parts:
        codes.update(part["close_codes"])

    def latest(key: str) -> float | None:
        values = [part[key] for part in parts if part[key] is not None]
        return max(values) if values else None

    return {
        "sockets": sum(p["sockets"] for p in parts),
        "session_ended": sum(p["session_ended"] for p in parts),
        "session_ended_within_1s": sum(p["session_ended_within_1s"] for p in parts),
        "close_codes": dict(codes),
        "still_open": sum(p["still_open"] for p in parts),
        "last_session_ended_s": latest("last_session_ended_s"),
        "last_session_ended_arrived_s": latest("last_session_ended_arrived_s"),
        "session_ended_arrived_within_1s": sum(p.get("session_ended_arrived_within_1s", 0) for p in parts),
        "last_close_s": latest("last_close_s"),
        "per_process": parts,
    }


def server_revocation_times(server: Server, kid: str, returned_at: float) -> dict | None:
    """From a server's log (at INFO): when, after the revoke call returned, it had told every socket of
    signing key ``kid`` (``told_s``: its last ``sessionEnded`` written) and started closing them all
    (``closing_s``), and how many (authplatform/layers.py: "Delivered session.end to N channel(s) of
    kid.<kid> in X s, then finished N in Y s", logged when the closes are sent)."""
    pattern = re.compile(
        r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) .*Delivered session\.end to (\d+) channel\(s\) of "
        + re.escape(f"kid.{kid}")
        + r" in [\d.]+ s(?:, then finished \d+ in ([\d.]+) s)?"
    )
    for line in server.log_path.read_text(errors="replace").splitlines():
        match = pattern.match(line)
        if match:
            logged_at = time.mktime(time.strptime(match[1], "%Y-%m-%d %H:%M:%S")) + int(match[2]) / 1000
            closing = float(match[4] or 0)
            return {
                "sockets": int(match[3]),
                "told_s": round(logged_at - closing - returned_at, 3),
                "closing_s": round(logged_at - returned_at, 3),
            }
    return None


def revoke_note(rev: dict) -> str:
    """One round of the revocation row: overall, then each load generator (one per server)."""

    def last(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f} s"

    note = (
        f"sessionEnded {rev['session_ended']}/{rev['sockets']} (within 1 s {rev['session_ended_within_1s']}), "
        f"last sessionEnded {last(rev['last_session_ended_s'])}, close codes {rev['close_codes']}, "
        f"still open {rev['still_open']}"
    )
    if rev.get("last_session_ended_arrived_s") is not None:
        # The bytes' arrival in the load generator, before its loop read them (sioload.ArrivalStampedConnection).
        note += (
            f", sessionEnded bytes in the load generators: last {last(rev['last_session_ended_arrived_s'])}, "
            f"within 1 s {rev['session_ended_arrived_within_1s']}"
        )
    servers = [t for t in rev.get("servers") or [] if t]
    if servers:
        note += ", servers told all by " + " / ".join(f"{t['told_s']:.2f} s" for t in servers)
        note += " and sent every close by " + " / ".join(f"{t['closing_s']:.2f} s" for t in servers)
    if rev.get("cpu_s"):
        note += f", CPU s servers {rev['cpu_s']['servers']} load generators {rev['cpu_s']['load_generators']}"
        if rev.get("cpu_sys_s"):
            note += f" (of which system {rev['cpu_sys_s']['servers']} and {rev['cpu_sys_s']['load_generators']})"
    per = rev.get("per_process") or []
    if len(per) > 1:
        note += (
            " ["
            + ", ".join(
                f"process {i + 1}: first sessionEnded {last(p.get('first_session_ended_s'))}, "
                f"last close {last(p['last_close_s'])}, within 1 s "
                f"{p['session_ended_within_1s']}/{p['sockets']}"
                for i, p in enumerate(per)
            )
            + "]"
        )
    return note


def statement_label(sql: str) -> str:
    """A short name for a SQL statement: its verb and first table (``SELECT notifications_inboxitem``)."""
    words = sql.replace('"', " ").replace("`", " ").split()
    verb = words[0].upper() if words else "?"
    for i, word in enumerate(words[:-1]):
        if word.upper() in ("FROM", "INTO", "UPDATE"):
            return f"{verb} {words[i + 1]}" + (" (join)" if " JOIN " in sql.upper() else "")
    return verb


def median_of(values: list[float]) -> float | None:
    s = summary(values)
    return s["median"] if s else None


# --- the bench ---------------------------------------------------------------------------------
class Bench:
    def __init__(self, mode: str, *, only: set[str], profile: bool, keep: bool) -> None:
        self.mode = mode
        self.cfg = MODES[mode]
        self.only = only
        self.profile = profile
        self.keep = keep
        self.lines: list[Line] = []
        self.raw: dict = {}
        self.notes: list[str] = []
        self.servers: list[Server] = []
        self.shared: dict[str, Server] = {}  # peer and floor servers reused between rows (and runs in quick)
        self.started = time.monotonic()

    # helpers ------------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def start(self, *servers: Server) -> list[Server]:
        for s in servers:
            s.start()
            self.servers.append(s)
        for s in servers:
            s.wait_ready()
        return list(servers)

    def stop(self, *servers: Server) -> None:
        for s in servers:
            s.stop()
            if s in self.servers:
                self.servers.remove(s)

    def make_server(self, kind: str) -> Server:
        return {
            "ours": lambda: daphne(self.env, name="daphne-sockets"),
            "peer": lambda: uvicorn_socketio(self.env),
            "floor": lambda: websockets_floor(self.env),
        }[kind]()

    def shared_servers(self, *kinds: str) -> list[Server]:
        """Started once, on first use; "ours" is the main daphne server."""
        missing = [k for k in kinds if k not in self.shared and k != "ours"]
        for kind, server in zip(missing, self.start(*(self.make_server(k) for k in missing))):
            self.shared[kind] = server
        return [self.main if k == "ours" else self.shared[k] for k in kinds]

    def stop_shared(self) -> None:
        self.stop(*self.shared.values())
        self.shared.clear()

    def section(self, name: str, fn) -> None:
        """Run one group of rows; a failure is reported in the table's notes, never ends the bench."""
        if name not in self.only:
            return
        self.log(f"== {name}")
        try:
            fn()
        except Exception as exc:  # keep the other rows
            traceback.print_exc()
            self.notes.append(f"**{name} rows failed**: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")

    # main ---------------------------------------------------------------------------------------
    def run(self) -> int:
        fd_limit = raise_fd_limit()
        var_dir = Path(tempfile.mkdtemp(prefix="bench-", dir=ROOT / "var" if (ROOT / "var").is_dir() else None))
        redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"
        self.env = BenchEnv(
            var_dir,
            database_url=os.environ.get("BENCH_DATABASE_URL", ""),
            redis_url=redis_url if redis_reachable(redis_url) else "",
        )
        self.info = {
            "mode": self.mode,
            "config": self.cfg,
            "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "fd_limit": fd_limit,
            "loadavg_start": os.getloadavg(),
            "database": "SQLite file" if self.env.database_url.startswith("sqlite") else "DATABASE_URL",
            "redis": bool(self.env.redis_url),
        }
        try:
            n_customers = max(
                self.cfg["fanout_customers"], self.cfg["recovery_customers"], min(self.cfg["sockets"], 1000)
            )
            self.log(f"seeding {n_customers} customers into {var_dir}; starting servers")
            # Servers start (imports, no database access) while the seed migrates: start-up is slow.
            seeding = self.env.popen("-m", "bench.seed", str(n_customers))
            self.main = daphne(self.env, name="daphne")
            peers = ["peer", "floor"] if {"fanout", "sockets"} & self.only else []
            self.redis_pair = []
            if "fanout" in self.only and self.env.redis_url:
                self.redis_pair = [
                    daphne(self.env, name="daphne-redis-a", redis=True),
                    daphne(self.env, name="daphne-redis-b", redis=True),
                ]
            for server in (self.main, *(self.make_server(k) for k in peers), *self.redis_pair):
                server.start()
                self.servers.append(server)
                if server.name in ("python-socketio", "websockets-floor"):
                    self.shared["peer" if server.name == "python-socketio" else "floor"] = server
            out, err = seeding.communicate(timeout=600)
            if seeding.returncode != 0:
                raise RuntimeError(f"seeding failed:\n{err}")
            self.seed = json.loads(out)
            for server in self.servers:
                server.wait_ready()
            self.log("servers ready")
            self.api_token = self.mint_api_token()
            self.section("http", self.http_rows)
            self.section("verify", self.verify_rows)
            self.section("fanout", self.fanout_rows)
            self.section("sockets", self.socket_rows)
            self.section("recovery", self.recovery_rows)
            self.section("inbox", self.inbox_rows)
            self.section("revoke", self.revoke_rows)  # last: it adds and revokes signing keys
            if self.profile:
                self.section("http", self.profile_slowest_http)
        finally:
            self.stop(*list(self.servers))
            if not self.keep:
                shutil.rmtree(var_dir, ignore_errors=True)
        self.info["loadavg_end"] = os.getloadavg()
        self.info["seconds"] = round(time.monotonic() - self.started, 1)
        self.write()
        return 0

    # tokens -----------------------------------------------------------------------------------
    def api_key_headers(self) -> dict[str, str]:
        return {"Api-Key": self.seed["api_key"]}

    def mint_api_token(self) -> str | None:
        status, body = httpload.get_json(self.main.url("/api/v1/user/apikeys/token"), self.api_key_headers())
        self.raw["mint_probe"] = {"status": status}
        return body.get("token") if status == 200 and isinstance(body, dict) else None

    # row 1 and 3: HTTP --------------------------------------------------------------------------
    def http_targets(self) -> dict[str, tuple[str, dict[str, str]]]:
        s = self.seed
        bearer = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
        targets = {
            "none": ("/bench/none", {}),
            "client": ("/bench/client", {"x-client-key": s["client_key"], "x-client-secret": s["client_secret"]}),
            "api_key": ("/bench/api_key", self.api_key_headers()),
            "api_token": ("/bench/api_token", bearer(self.api_token) if self.api_token else {}),
            "customer_jwt": ("/bench/customer_jwt", bearer(s["customer_tokens"][0])),
            "peer_drf_api_key": ("/bench/peer_drf_api_key", {"Authorization": f"Api-Key {s['peer_drf_api_key']}"}),
            "peer_simplejwt": ("/bench/peer_simplejwt", bearer(s["peer_simplejwt"])),
            "apikeys_current": ("/api/v1/user/apikeys/current", self.api_key_headers()),
            "apikeys_token": ("/api/v1/user/apikeys/token", self.api_key_headers()),
        }
        return targets

    def http_rows(self) -> None:
        cfg = self.cfg
        targets = self.http_targets()
        usable, skipped = {}, {}
        for name, (path, headers) in targets.items():
            if name == "api_token" and not self.api_token:
                skipped[name] = NOT_BUILT
                continue
            status, body = httpload.check(self.main.url(path), headers)
            if status == 200:
                usable[name] = (path, headers)
            elif status == 404:
                skipped[name] = NOT_BUILT
            else:
                skipped[name] = f"error: {status} {body[:120]}"
        self.raw["http_skipped"] = skipped
        runs: dict[str, list[dict]] = {name: [] for name in usable}
        order = list(usable)
        for name in order:  # warm-up: lazy imports, first connections, caches
            path, headers = usable[name]
            httpload.wrk(self.main.url(path), headers, seconds=cfg["http_warmup"], connections=cfg["http_connections"])
        for r in range(cfg["runs"]):
            rotated = order[r % len(order) :] + order[: r % len(order)]  # no row always first or last
            for name in rotated:
                path, headers = usable[name]
                runs[name].append(
                    httpload.wrk(
                        self.main.url(path), headers, seconds=cfg["http_seconds"], connections=cfg["http_connections"]
                    )
                )
            self.log(f"http round {r + 1}/{cfg['runs']} done")
        self.raw["http"] = runs
        rps = {name: [x["rps"] for x in rr] for name, rr in runs.items()}
        bad = {name: sum(x["non2xx"] + x["socket_errors"] for x in rr) for name, rr in runs.items()}

        def line(row, name, what, *, ratios=(), goal="", met=None, note_extra=""):
            if name not in runs:
                return Line(row, what, "req/s", na=skipped.get(name, NOT_BUILT), goal=goal)
            p50 = median_of([x["p50_ms"] for x in runs[name]])
            p99 = median_of([x["p99_ms"] for x in runs[name]])
            note = f"p50 {fmt(p50)} ms, p99 {fmt(p99)} ms"
            if bad[name]:
                note += f"; **{bad[name]} non-2xx/socket errors**"
            return Line(
                row, what, "req/s", values=rps[name], ratios=list(ratios), goal=goal, met=met, note=note + note_extra
            )

        self.lines.append(line("1", "none", "unauthenticated (reference)"))
        peers = [p for p in ("peer_drf_api_key", "peer_simplejwt") if p in rps]
        best_peer = [max(vals) for vals in zip(*(rps[p] for p in peers))] if peers else []
        for name, what in (
            ("client", "ours: client key + secret"),
            ("api_key", "ours: API key (64 chars)"),
            ("api_token", "ours: API token (JWT from an API key)"),
            ("customer_jwt", "ours: customer JWT (RS256)"),
        ):
            vs_none = ratio_list(rps.get(name), rps.get("none"))
            vs_peer = ratio_list(rps.get(name), best_peer)
            met = None
            if vs_none and vs_peer:
                met = median_of(vs_none) >= 0.90 and median_of(vs_peer) >= 1.0
            self.lines.append(
                line(
                    "1",
                    name,
                    what,
                    ratios=[("unauth", vs_none), ("best peer", vs_peer)],
                    goal="≥ 0.90× unauth and ≥ 1.0× best peer",
                    met=met,
                )
            )
        self.lines.append(
            line(
                "1",
                "peer_drf_api_key",
                "peer: djangorestframework-api-key HasAPIKey",
                ratios=[("unauth", ratio_list(rps.get("peer_drf_api_key"), rps.get("none")))],
            )
        )
        self.lines.append(
            line(
                "1",
                "peer_simplejwt",
                "peer: djangorestframework-simplejwt JWTAuthentication (HS256)",
                ratios=[("unauth", ratio_list(rps.get("peer_simplejwt"), rps.get("none")))],
            )
        )
        cur = rps.get("apikeys_current")
        self.lines.append(line("3", "apikeys_current", "GET user/apikeys/current (reference)"))
        tok_ratio = ratio_list(rps.get("apikeys_token"), cur)
        self.lines.append(
            line(
                "3",
                "apikeys_token",
                "GET user/apikeys/token (mint)",
                ratios=[("current", tok_ratio)],
                goal="≥ 0.9× current",
                met=(median_of(tok_ratio) >= 0.9) if tok_ratio else None,
            )
        )

    # row 2: in process ----------------------------------------------------------------------------
    def verify_rows(self) -> None:
        cfg_path = self.env.var_dir / "verify.json"
        cfg_path.write_text(
            json.dumps(
                {
                    "seed": self.seed,
                    "api_token": self.api_token,
                    "target_s": self.cfg["verify_target_s"],
                    "repeats": self.cfg["runs"],
                }
            )
        )
        out = json.loads(self.env.run("-m", "bench.verify", str(cfg_path), timeout=600))
        self.raw["verify"] = out
        labels = {
            "floor_hmac_sha256": "floor: HMAC-SHA256 of the presented secret",
            "floor_rs256_verify": "floor: RS256 signature verify (2048-bit)",
            "client_hit": "ours: client key + secret, hit",
            "client_miss_unknown_key": "ours: client key + secret, miss (unknown key)",
            "client_miss_bad_secret": "ours: client key + secret, miss (wrong secret)",
            "api_key_hit": "ours: API key 64 chars, hit",
            "api_key_legacy_hit": "ours: API key legacy 32 chars, hit",
            "api_key_miss_unknown_key": "ours: API key, miss (unknown key)",
            "api_key_miss_bad_secret": "ours: API key, miss (wrong secret part)",
            "api_token_hit": "ours: API token, hit",
            "api_token_miss_bad_signature": "ours: API token, miss (bad signature)",
            "customer_jwt_hit": "ours: customer JWT, hit",
            "customer_jwt_miss_bad_signature": "ours: customer JWT, miss (bad signature)",
            "customer_jwt_miss_unknown_kid": "ours: customer JWT, miss (unknown kid)",
        }
        for name, label in labels.items():
            case = out.get(name)
            if case is None:
                continue
            if "na" in case:
                self.lines.append(Line("2", label, "µs/call", na=f"n/a ({case['na']})", goal="≤ 2× floor"))
                continue
            floor = case.get("floor")
            if floor is None:
                self.lines.append(Line("2", label, "µs/call", values=case["us"], note="floor"))
                continue
            ratios = ratio_list(case["us"], out[floor]["us"])
            floor_name = "HMAC" if "hmac" in floor else "RS256"
            self.lines.append(
                Line(
                    "2",
                    label,
                    "µs/call",
                    values=case["us"],
                    ratios=[(floor_name, ratios)],
                    goal="≤ 2× floor",
                    met=median_of(ratios) <= 2.0,
                )
            )

    # rows 5 and 6: fan-out ----------------------------------------------------------------------
    def loadgen(self, cfg: dict, *, name: str, stdin: bool = False) -> subprocess.Popen:
        path = self.env.var_dir / f"load-{name}-{time.monotonic_ns()}.json"
        path.write_text(json.dumps(cfg))
        return subprocess.Popen(
            [PYTHON, "-m", "bench.sioload", str(path)],
            cwd=ROOT,
            env=self.env.env(),
            stdin=subprocess.PIPE if stdin else None,
            stdout=subprocess.PIPE,
            stderr=open(self.env.var_dir / f"load-{name}.err", "ab"),
            text=True,
        )

    @staticmethod
    def read_phase(proc: subprocess.Popen, phase: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"load generator ended before its '{phase}' report (exit {proc.wait()})")
            obj = json.loads(line)
            if obj.get("phase") == phase:
                return obj
        raise RuntimeError(f"no '{phase}' report within {timeout}s")

    def probe_socketio(self, server: Server, path: str) -> str | None:
        """None if a Socket.IO CONNECT with a customer token succeeds; else why not."""
        from websockets.sync.client import connect

        try:
            with connect(server.url(path, scheme="ws"), open_timeout=10, compression=None) as ws:
                opened = ws.recv(timeout=10)
                if not opened.startswith("0"):
                    return f"no Engine.IO open packet ({opened[:40]!r})"
                ws.send("40" + json.dumps({"token": f"Bearer {self.seed['customer_tokens'][0]}"}))
                answer = ws.recv(timeout=10)
                while answer == "2":
                    ws.send("3")
                    answer = ws.recv(timeout=10)
                return None if answer.startswith("40") else f"CONNECT answered {answer[:120]!r}"
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:160]}"

    def send_body(self, recipients: list[str]) -> dict:
        return {
            "product_space_code": self.seed["product_space_code"],
            "recipients": recipients,
            "title": "Bench",
            "body": "A message for the fan-out benchmark.",
            "category": "bench",
            "data": {"bench": True},
        }

    def client_headers(self) -> dict[str, str]:
        return {"x-client-key": self.seed["client_key"], "x-client-secret": self.seed["client_secret"]}

    def fanout(
        self,
        *,
        kind: str,
        urls: list[str],
        trigger: dict | None,
        name: str,
        measure: list[Server] | None = None,
        sends: int | None = None,
    ) -> dict:
        """``measure``: servers whose CPU seconds (and Redis's commands) are counted over the sends.
        ``sends``: measured sends (default ``fanout_runs``), each with its fan-out; the fan-out rows
        use the first ``fanout_runs`` of them, the send API rows all."""
        n = self.cfg["fanout_customers"]
        cfg = {
            "mode": "fanout",
            "kind": kind,
            "urls": urls,
            "n": n,
            "concurrency": self.cfg["socket_concurrency"],
            "tokens": self.seed["customer_tokens"][:n] if kind == "sio" else None,
            "sends": (sends or self.cfg["fanout_runs"]) + 1,
            "trigger": trigger,
            "connect_deadline": 60,
            "wait": 15,
            "quiet": 3,
            "pause": self.cfg["fanout_pause"],
            "message": {"id": "00000000-0000-0000-0000-000000000000", **self.send_body([])},
        }
        proc = self.loadgen(cfg, name=name)
        spy = None
        try:
            connected = self.read_phase(proc, "connected", 180)
            if self.profile and name == "ours-1":  # the sends only, not the connects
                spy = self.spy_start(self.main.pid, "fanout-send")
            if measure:  # from the connected report to the fanout report: the sends (and a pause each)
                cpu0 = cpu_seconds([s.pid for s in measure])
                calls0 = redis_calls(self.env.redis_url) if self.env.redis_url else None
            result = self.read_phase(proc, "fanout", 300)
            if measure:
                sends = len(result["runs"])
                connected["cpu_s_per_send"] = (cpu_seconds([s.pid for s in measure]) - cpu0) / sends
                if calls0 is not None:
                    connected["redis_commands_per_send"] = (redis_calls(self.env.redis_url) - calls0) / sends
        finally:
            if spy:
                self.spy_stop(spy)
            proc.wait(timeout=60)
        runs = result["runs"][1:]  # the first send warms up (imports, first queries, layer connections)
        return {
            "connected": connected,
            "warmup": result["runs"][0],
            "runs": runs[: self.cfg["fanout_runs"]],
            "api_runs": runs,
        }

    def fanout_rows(self) -> None:
        n = self.cfg["fanout_customers"]
        recipients = self.seed["customers"][:n]
        sfx = f" ({n:,} customers)"
        results: dict[str, dict | str] = {}

        # ours, one process
        why = self.probe_socketio(self.main, OUR_SIO_PATH)
        status, body = httpload.post_json(
            self.main.url("/api/v1/in-app-messages"), self.client_headers(), self.send_body(recipients[:1])
        )
        if why is not None:
            results["ours_1"] = results["ours_2"] = f"{NOT_BUILT}|Socket.IO endpoint: {why}"
            self.raw["sio_probe"] = why
        elif status == 404:
            results["ours_1"] = results["ours_2"] = f"{NOT_BUILT}|send API answers 404"
        elif status >= 300:
            results["ours_1"] = results["ours_2"] = f"error: send API {status} {body[:150]}"
        else:
            trigger = {
                "url": self.main.url("/api/v1/in-app-messages"),
                "headers": self.client_headers(),
                "json": self.send_body(recipients),
            }
            api_sends = max(self.cfg["fanout_runs"], self.cfg["api_sends"])
            self.env.run("-m", "bench.inbox", "clear")  # each of our rows from the same empty inbox
            results["ours_1"] = self.fanout(
                kind="sio", urls=[self.main.url(OUR_SIO_PATH, "ws")], trigger=trigger, name="ours-1", sends=api_sends
            )
            if not self.env.redis_url:
                results["ours_2"] = "n/a (no Redis reachable: set BENCH_REDIS_URL)"
            else:
                a, b = self.redis_pair
                try:
                    trigger = {**trigger, "url": a.url("/api/v1/in-app-messages")}
                    self.env.run("-m", "bench.inbox", "clear")
                    results["ours_2"] = self.fanout(
                        kind="sio",
                        urls=[a.url(OUR_SIO_PATH, "ws"), b.url(OUR_SIO_PATH, "ws")],
                        trigger=trigger,
                        name="ours-2",
                        measure=[a, b],
                        sends=api_sends,
                    )
                finally:
                    self.stop(a, b)
        self.log("fan-out: ours done")

        peer, floor = self.shared_servers("peer", "floor")
        message = {"id": "00000000-0000-0000-0000-000000000000", **self.send_body([])}
        results["peer"] = self.fanout(
            kind="sio",
            urls=[peer.url(PEER_SIO_PATH, "ws")],
            name="peer",
            trigger={
                "url": peer.url("/send"),
                "json": {
                    "workspace_code": self.seed["workspace_code"],
                    "product_space_code": self.seed["product_space_code"],
                    "recipients": recipients,
                    "message": message,
                },
            },
        )
        results["floor"] = self.fanout(kind="ws", urls=[floor.url("/", "ws")], trigger=None, name="floor")
        if self.env.redis_url:
            pair = self.start(
                uvicorn_socketio(self.env, name="python-socketio-redis-a", redis=True),
                uvicorn_socketio(self.env, name="python-socketio-redis-b", redis=True),
            )
            try:
                results["peer_2"] = self.fanout(
                    kind="sio",
                    urls=[p.url(PEER_SIO_PATH, "ws") for p in pair],
                    name="peer-2",
                    measure=pair,
                    trigger={
                        "url": pair[0].url("/send"),
                        "json": {
                            "workspace_code": self.seed["workspace_code"],
                            "product_space_code": self.seed["product_space_code"],
                            "recipients": recipients,
                            "message": message,
                        },
                    },
                )
            finally:
                self.stop(*pair)
        else:
            results["peer_2"] = "n/a (no Redis reachable: set BENCH_REDIS_URL)"
        self.log("fan-out: peers done")
        self.raw["fanout"] = results

        def figures(res):
            if not isinstance(res, dict):
                return None
            p99 = [pct(r["latencies_ms"], 99) if r["latencies_ms"] else None for r in res["runs"]]
            return {
                "p99": p99,
                "p50": [pct(r["latencies_ms"], 50) for r in res["runs"] if r["latencies_ms"]],
                "max": [r["latencies_ms"][-1] for r in res["runs"] if r["latencies_ms"]],
                "delivered": min((r["delivered"] for r in res["runs"]), default=0),
                "expected": n,
                "connected": res["connected"]["ok"],
                "status": Counter(r["status"] for r in res["api_runs"]),
                "response_ms": sorted(r["response_ms"] for r in res["api_runs"]),
                "cpu": res["connected"].get("cpu_s_per_send"),
                "redis": res["connected"].get("redis_commands_per_send"),
            }

        figs = {k: figures(v) for k, v in results.items()}
        peer_p99 = figs["peer"]["p99"] if figs.get("peer") else None
        for key, what, goal in (
            ("ours_1", "ours: one daphne process", "p99 ≤ 250 ms; ≤ 1.0× python-socketio"),
            ("ours_2", "ours: two daphne processes over Redis", "≤ 0.5× python-socketio on two; ≤ 1.0× on one"),
            ("peer", "peer: python-socketio AsyncServer (uvicorn), emit only, stores nothing", ""),
            ("peer_2", "peer: python-socketio on two uvicorn processes, AsyncRedisManager", ""),
            ("floor", "floor: bare websockets broadcast", ""),
        ):
            row = "6" if key in ("peer", "peer_2", "floor") else "5"
            res, f = results.get(key), figs.get(key)
            if f is None:
                na, _, detail = str(res).partition("|")
                self.lines.append(Line(row, f"fan-out p99, {what}{sfx}", "ms", na=na, goal=goal, note=detail))
                continue
            note = (
                f"p50 {fmt(median_of(f['p50']))} ms, max {fmt(median_of(f['max']))} ms; "
                f"delivered {f['delivered']}/{f['expected']} (sockets up {f['connected']})"
            )
            if f["delivered"] < f["expected"]:
                note += "; **messages lost: percentiles are of those delivered**"
            if key.startswith("ours"):
                note += f"; send API {dict(f['status'])}"
            ratios = [("python-socketio", ratio_list(f["p99"], peer_p99))] if key != "peer" and peer_p99 else []
            peer2_p99 = figs["peer_2"]["p99"] if figs.get("peer_2") else None
            if key == "ours_2" and peer2_p99:
                ratios.append(("python-socketio on two", ratio_list(f["p99"], peer2_p99)))
            met = None
            if key == "ours_2" and peer2_p99 and peer_p99:
                met = (
                    median_of(ratio_list(f["p99"], peer2_p99)) <= 0.5
                    and median_of(ratio_list(f["p99"], peer_p99)) <= 1.0
                    and f["delivered"] == f["expected"]
                )
            if key == "ours_1":
                vs = ratio_list(f["p99"], peer_p99)
                met = (
                    median_of(f["p99"]) <= 250 and (not vs or median_of(vs) <= 1.0) and f["delivered"] == f["expected"]
                )
            self.lines.append(
                Line(
                    row,
                    f"fan-out p99, {what}{sfx}",
                    "ms",
                    values=f["p99"],
                    ratios=ratios,
                    goal=goal,
                    met=met,
                    note=note,
                )
            )
            if key.startswith("ours"):
                rtt = f["response_ms"]  # every measured send, ascending
                p99 = pct(rtt, 99) if rtt else None
                self.lines.append(
                    Line(
                        row,
                        f"send API p99 (POST to 202, fan-out running), {what}{sfx}",
                        "ms",
                        values=[p99] if rtt else [],
                        goal="≤ 100 ms",
                        met=(p99 <= 100) if rtt else None,
                        note=(
                            f"p50 {fmt(pct(rtt, 50))} ms, max {fmt(rtt[-1])} ms over {len(rtt)} sends, each "
                            f"followed by its fan-out to every socket; timed by a client process of its own "
                            f"(bench/sender.py)"
                        )
                        if rtt
                        else "",
                    )
                )
            if f.get("redis") is not None:
                self.lines.append(
                    Line(
                        row,
                        f"Redis commands per send, {what}{sfx}",
                        "commands",
                        values=[f["redis"]],
                        goal="≤ 5" if key == "ours_2" else "",
                        met=(f["redis"] <= 5) if key == "ours_2" else None,
                        note="INFO commandstats delta over all sends (one number: the sends' mean)",
                    )
                )
            if f.get("cpu") is not None:
                self.lines.append(
                    Line(
                        row,
                        f"server CPU seconds per send, {what}{sfx}",
                        "s",
                        values=[f["cpu"]],
                        note="both processes, utime + stime over the sends",
                    )
                )

    # row 8: reconnect after a deploy, with recovery or with an inbox read -------------------------------
    def server_statements(self, server: Server) -> dict[str, int]:
        """The SQL statements ``server`` (started with BENCH_COUNT_QUERIES=1) has run so far, by SQL text."""
        status, body = httpload.get_json(server.url("/bench/queries"), {})
        if status != 200 or not body:
            raise RuntimeError(f"/bench/queries answered {status}")
        return body["statements"]

    def pg_transactions(self) -> int | None:
        """Transactions of the bench's PostgreSQL database so far (pg_stat_database), or None on SQLite.
        In autocommit each statement outside atomic() is one; a server's backends report theirs at the
        latest when they exit, so the recovery row reads this with its server stopped."""
        if not self.env.database_url.startswith(("postgres://", "postgresql://")):
            return None
        import psycopg

        with psycopg.connect(self.env.database_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        return int(row[0])

    def recovery_round(self, variant: str, n: int) -> dict:
        """One reconnect of ``n`` sockets after a restart (bench/sioload.py ``recovery`` says what the
        client does): the first server holds the sockets until they drop, messages are sent, it stops;
        a fresh one (statements counted) takes every reconnect at once."""
        cfg = self.cfg
        recipients, tokens = self.seed["customers"][:n], self.seed["customer_tokens"][:n]
        first = self.start(daphne(self.env, name=f"daphne-recovery-{variant}-1"))[0]
        second = None
        proc = self.loadgen(
            {
                "mode": "recovery",
                "kind": "sio",
                "variant": variant,
                "urls": [first.url(OUR_SIO_PATH, "ws")],
                "tokens": tokens,
                "n": n,
                "concurrency": cfg["socket_concurrency"],
                "reconnect_concurrency": cfg["recovery_concurrency"],
                "inbox_limit": cfg["recovery_inbox_limit"],
                "wait": 180,
            },
            name=f"recovery-{variant}",
            stdin=True,
        )
        try:
            connected = self.read_phase(proc, "connected", 300)
            self.read_phase(proc, "closed", 60)
            ids = []  # sent while the clients are away
            for _ in range(cfg["recovery_messages"]):
                status, body = httpload.post_json(
                    first.url("/api/v1/in-app-messages"), self.client_headers(), self.send_body(recipients)
                )
                if status != 202:
                    raise RuntimeError(f"send API answered {status}: {body[:200]}")
                ids.append(json.loads(body)["id"])
            self.stop(first)  # as after a deploy: the process the sockets were on is gone
            pg_before = self.pg_transactions()
            second = self.start(daphne(self.env, name=f"daphne-recovery-{variant}-2", BENCH_COUNT_QUERIES="1"))[0]
            before = self.server_statements(second)
            cpu_before = cpu_seconds([second.pid])
            go = {"url": second.url(OUR_SIO_PATH, "ws"), "http": second.url(), "message_ids": ids}
            proc.stdin.write(json.dumps(go) + "\n")
            proc.stdin.flush()
            result = self.read_phase(proc, "recovered", 300)
            cpu = cpu_seconds([second.pid]) - cpu_before
            after = self.server_statements(second)
            proc.wait(timeout=60)
            self.stop(second)
            pg_after = self.pg_transactions()
        finally:
            if proc.poll() is None:
                proc.kill()
            self.stop(first, *([second] if second else []))
        statements = Counter(after)
        statements.subtract(before)
        return {
            "connected": connected,
            "result": result,
            "statements": {sql: k for sql, k in statements.items() if k},
            "statements_server_lifetime": sum(after.values()),
            "pg_transactions_server_lifetime": None if pg_before is None else pg_after - pg_before,
            "server_cpu_s": cpu,
        }

    def recovery_rows(self) -> None:
        """Row 8: ``n`` sockets reconnect at once to a restarted server after ``recovery_messages`` sends,
        with connection state recovery against a plain reconnect followed by ``GET customer/inbox``."""
        cfg = self.cfg
        n = min(cfg["recovery_customers"], len(self.seed["customers"]))
        what = f"{n:,} sockets reconnecting at once after a restart, {cfg['recovery_messages']} messages missed"
        why = self.probe_socketio(self.main, OUR_SIO_PATH)
        if why is not None:
            self.lines.append(Line("8", f"recovery, {what}", na=NOT_BUILT, note=f"Socket.IO endpoint: {why}"))
            return
        # Every customer's inbox holds a full first page before the rounds (as a customer with some
        # history has), so each GET customer/inbox reads and sends as many items in every round.
        for _ in range(cfg["recovery_inbox_limit"]):
            status, body = httpload.post_json(
                self.main.url("/api/v1/in-app-messages"),
                self.client_headers(),
                self.send_body(self.seed["customers"][:n]),
            )
            if status != 202:
                raise RuntimeError(f"send API answered {status}: {body[:200]}")
        variants = ("recover", "inbox")
        per: dict[str, list[dict]] = {v: [] for v in variants}
        for r in range(cfg["recovery_runs"]):
            for variant in variants if r % 2 == 0 else variants[::-1]:
                per[variant].append(self.recovery_round(variant, n))
                res = per[variant][-1]["result"]
                self.log(
                    f"recovery run {r + 1}: {variant} caught up {res['caught_up']}/{res['sockets']} "
                    f"in {res['last_caught_up_s']:.2f}s (recovered {res['recovered']}, errors {res['errors']})"
                )
        self.raw["recovery"] = per

        def per_socket(x: dict) -> float | None:
            caught = x["result"]["caught_up"]
            return sum(x["statements"].values()) / caught if caught else None

        last = {v: [x["result"]["last_caught_up_s"] for x in per[v]] for v in variants}
        queries = {v: [per_socket(x) for x in per[v]] for v in variants}
        cpu_ms = {v: [1000 * x["server_cpu_s"] / max(1, x["result"]["caught_up"]) for x in per[v]] for v in variants}

        def checks(v: str) -> str:
            parts = []  # one text per round, said once when the rounds agree
            for x in per[v]:
                res = x["result"]
                text = f"{res['caught_up']}/{res['sockets']} caught up"
                if v == "recover":
                    text += f", recovered {res['recovered']}, replay exact {res['replay_ok']}"
                if res["inbox_ok"] or v == "inbox":
                    text += f", inbox read {res['inbox_ok']}"
                if res["errors"]:
                    text += f", errors {res['errors']}"
                parts.append(text)
            return f"every round: {parts[0]}" if len(set(parts)) == 1 else "rounds: " + "; ".join(parts)

        labels = {
            "recover": "with recovery (pid + offset: missed messages replayed, then unreadCount)",
            "inbox": f"plain reconnect, then GET customer/inbox?limit={cfg['recovery_inbox_limit']}",
        }
        for v in variants:
            other = "inbox" if v == "recover" else None
            p50 = median_of([x["result"]["p50_caught_up_s"] for x in per[v]])
            answers = median_of([x["result"]["last_connect_answer_s"] for x in per[v]])
            self.lines.append(
                Line(
                    "8",
                    f"{what}: time until all caught up, {labels[v]}",
                    "s",
                    values=last[v],
                    ratios=[("plain + inbox", ratio_list(last[v], last[other]))] if other else [],
                    note=f"p50 socket {fmt(p50)} s, last CONNECT answer {fmt(answers)} s; {checks(v)}",
                )
            )
        for v in variants:
            other = "inbox" if v == "recover" else None
            counted = [x["statements"] for x in per[v]]
            top = Counter()
            for c in counted:
                top.update(c)
            caught = sum(x["result"]["caught_up"] for x in per[v])
            shown = [(sql, k) for sql, k in top.most_common() if k / caught >= 0.01]
            breakdown = ", ".join(f"{statement_label(sql)} {k / caught:.2f}" for sql, k in shown)
            rest = sum(top.values()) - sum(k for _, k in shown)
            if rest:
                breakdown += f", others {rest / caught:.3f} (per process or per second, not per socket)"
            pg = [x["pg_transactions_server_lifetime"] for x in per[v]]
            note = (
                "statements the restarted server ran from before the first reconnect to after the last, "
                f"per socket caught up (bench/querycount.py): {breakdown}"
            )
            if pg[0] is not None:
                lifetime = [x["statements_server_lifetime"] for x in per[v]]
                note += (
                    f"; cross-check, the server's whole life: {lifetime} statements counted in process, "
                    f"{pg} transactions in pg_stat_database"
                )
            self.lines.append(
                Line(
                    "8",
                    f"database statements per socket, {labels[v]}",
                    "queries",
                    values=queries[v],
                    ratios=[("plain + inbox", ratio_list(queries[v], queries[other]))] if other else [],
                    note=note,
                )
            )
        for v in variants:
            other = "inbox" if v == "recover" else None
            self.lines.append(
                Line(
                    "8",
                    f"server CPU per socket, {labels[v]}",
                    "ms",
                    values=cpu_ms[v],
                    ratios=[("plain + inbox", ratio_list(cpu_ms[v], cpu_ms[other]))] if other else [],
                    note="the restarted server's utime + stime from before the first reconnect to after the last",
                )
            )

    # revocation and connect rate over two processes -----------------------------------------------
    # row 9: a large inbox's counts and a 100-id bulk action (issue 18) --------------------------------
    def inbox_rows(self) -> None:
        """Row 9: one customer with ``inbox_items`` items; ``GET customer/inbox/counts`` and
        ``POST customer/inbox/bulk`` with 100 ids (read and unread alternating, so every call changes
        its rows), each timed one request at a time on one keep-alive connection to the main server."""
        cfg = self.cfg
        customer, token = self.seed["customers"][-1], self.seed["customer_tokens"][-1]
        headers = {"Authorization": f"Bearer {token}"}
        counts_url, bulk_url = (
            self.main.url("/api/v1/customer/inbox/counts"),
            self.main.url("/api/v1/customer/inbox/bulk"),
        )
        status, body = httpload.check(counts_url, headers)
        if status == 404:
            for what in ("counts", "bulk"):
                self.lines.append(Line("9", f"inbox: {what}", na=NOT_BUILT, note=f"customer/inbox/counts: {status}"))
            return
        t0 = time.monotonic()
        ids = json.loads(self.env.run("-m", "bench.inbox", "fill", customer, str(cfg["inbox_items"]), timeout=900))
        self.log(f"filled {cfg['inbox_items']:,} inbox items in {time.monotonic() - t0:.1f} s")

        def bulk(i: int) -> tuple[str, dict]:
            return ("POST", {"action": "read" if i % 2 == 0 else "unread", "ids": ids})

        def run_once(url: str, requests: list, warmup: list) -> dict:
            httpload.timed(url, warmup, headers)
            res = httpload.timed(url, requests, headers)
            bad = Counter(status for _, status, _ in res if status != 200)
            if bad:
                raise RuntimeError(f"inbox row: answers other than 200: {dict(bad)}; {res[-1][2][:300]!r}")
            ms = sorted(x[0] for x in res)
            return {"p50": pct(ms, 50), "p99": pct(ms, 99), "max": ms[-1], "last": json.loads(res[-1][2])}

        per: dict[str, list[dict]] = {"counts": [], "bulk": []}
        for r in range(cfg["runs"]):
            gets = [("GET", None)] * cfg["inbox_counts_requests"]
            per["counts"].append(run_once(counts_url, gets, [("GET", None)] * cfg["inbox_warmup"]))
            # An even warm-up ends on "unread" and the timed calls start with "read": each changes all its rows.
            warmup = [bulk(i) for i in range(2 * -(-cfg["inbox_warmup"] // 2))]
            per["bulk"].append(run_once(bulk_url, [bulk(i) for i in range(cfg["inbox_bulk_requests"])], warmup))
            c, b = per["counts"][-1], per["bulk"][-1]
            self.log(
                f"inbox run {r + 1}: counts p50 {c['p50']:.2f} ms p99 {c['p99']:.2f} ms; "
                f"bulk p50 {b['p50']:.2f} ms p99 {b['p99']:.2f} ms"
            )
        self.raw["inbox"] = {"customer": customer, "items": cfg["inbox_items"], "ids": len(ids), **per}
        counts = per["counts"][-1]["last"]
        updated = sorted({x["last"]["updated"] for x in per["bulk"]})
        size = f"{cfg['inbox_items']:,} items in one inbox"
        for what, key, n, note in (
            (
                f"inbox: GET customer/inbox/counts, {size}",
                "counts",
                cfg["inbox_counts_requests"],
                f"answer {counts} (unseen, unread, total: three partial indexes counted)",
            ),
            (
                f"inbox: POST customer/inbox/bulk, {len(ids)} ids, read/unread alternating, {size}",
                "bulk",
                cfg["inbox_bulk_requests"],
                f"rows updated per call {updated}; the answer carries the counts too",
            ),
        ):
            for p in ("p50", "p99"):
                self.lines.append(
                    Line(
                        "9",
                        f"{what}: {p} of {n} sequential requests",
                        "ms",
                        values=[x[p] for x in per[key]],
                        note=f"{note}; one keep-alive connection, one request at a time" if p == "p50" else "",
                    )
                )

    def revoke_rows(self) -> None:
        """``sockets`` sockets over two daphne processes sharing Redis, signed by a new key; the key is
        revoked by a separate process (bench/revoke.py, as the CLI would) and every socket should get
        ``sessionEnded`` and a normal close within a second. The connect phase is the two-process connect
        rate, measured against python-socketio on two uvicorn processes with AsyncRedisManager."""
        if not self.env.redis_url:
            self.lines.append(Line("7", "revocation over two processes", na="n/a (no Redis reachable)"))
            return
        n, cfg = self.cfg["sockets"], self.cfg
        self.stop_shared()
        ours, peers = [], []
        floors: list[dict] = []
        for r in range(cfg["runs"]):
            order = ("ours", "peer", "floor") if r % 2 == 0 else ("floor", "peer", "ours")
            for kind in order:
                if kind == "floor":
                    floors.append(self.revoke_floor_round(n))
                    self.log(f"revoke run {r + 1}: floor {floors[-1]['revoked']}")
                elif kind == "ours":
                    minted = json.loads(self.env.run("-m", "bench.revoke", "new", "1000"))
                    # LOG_LEVEL INFO: each server logs when it has told and closed the key's sockets
                    # (authplatform/layers.py; one line per revocation, read by server_revocation_times).
                    pair = self.start(
                        daphne(self.env, name="daphne-revoke-a", redis=True, LOG_LEVEL="INFO"),
                        daphne(self.env, name="daphne-revoke-b", redis=True, LOG_LEVEL="INFO"),
                    )
                    # One load generator per server, as in the socket rows: a single one reading all the
                    # sockets is still busy when the last close comes and times its own backlog. This
                    # driver revokes once and hands each of them the moment the call returned.
                    procs = []
                    try:
                        procs = self.revoke_loadgens(pair, n, kind="sio", path=OUR_SIO_PATH, tokens=minted["tokens"])
                        conns = [self.read_phase(pr, "connected", cfg["connect_deadline"] * 2 + 120) for pr in procs]
                        time.sleep(1.0)
                        # --profile: py-spy samples both servers through the first round's revocation.
                        spies = (
                            [self.spy_start(p.pid, f"revoke-{p.name[-1]}") for p in pair]
                            if self.profile and r == 0
                            else []
                        )
                        watched = [p.pid for p in pair] + [pr.pid for pr in procs]
                        returned, cpu0 = self.revoke_on_go(minted["kid"], watched)
                        parts = self.revoked_reports(procs, returned)
                        # CPU seconds each process spent from just before the revoke until every socket closed
                        # (servers a, b; load generators a, b): who the two cores served meanwhile.
                        cpu = cpu_spent(watched, cpu0, servers=len(pair))
                        for spy in spies:
                            self.spy_stop(spy)
                        for pr in procs:
                            pr.wait(timeout=60)
                    finally:
                        for pr in procs:
                            if pr.poll() is None:
                                pr.kill()
                        self.stop(*pair)
                    connected = merge_connected(conns)
                    revoked = merge_revoked(parts) | cpu
                    returned_at = json.loads(returned)["returned_at"]
                    revoked["servers"] = [server_revocation_times(p, minted["kid"], returned_at) for p in pair]
                    ours.append({"connected": connected, "revoked": revoked})
                    self.log(
                        f"revoke run {r + 1}: ours {connected['ok']} sockets at {connected['rate']:.0f}/s; {revoked}"
                    )
                else:
                    pair = self.start(
                        uvicorn_socketio(self.env, name="python-socketio-redis-a", redis=True),
                        uvicorn_socketio(self.env, name="python-socketio-redis-b", redis=True),
                    )
                    procs = []  # one load generator per server, as for ours
                    try:
                        for i, p in enumerate(pair):
                            load = {
                                "mode": "hold",
                                "kind": "sio",
                                "client": "protocol",  # the same client as ours connects with
                                "urls": [p.url(PEER_SIO_PATH, "ws")],
                                "tokens": self.seed["customer_tokens"][i :: len(pair)],
                                "n": n // len(pair),
                                "hold": 0,
                                "concurrency": max(1, cfg["socket_concurrency"] // len(pair)),
                                "connect_deadline": cfg["connect_deadline"] * 2,
                            }
                            procs.append(self.loadgen(load, name=f"connect-peer-2-{p.name[-1]}"))
                        conns = [self.read_phase(pr, "connected", cfg["connect_deadline"] * 2 + 120) for pr in procs]
                        for pr in procs:
                            pr.wait(timeout=60)
                    finally:
                        for pr in procs:
                            if pr.poll() is None:
                                pr.kill()
                        self.stop(*pair)
                    connected = merge_connected(conns)
                    peers.append({"connected": connected})
                    self.log(f"revoke run {r + 1}: peer {connected['ok']} sockets at {connected['rate']:.0f}/s")
        self.raw["revoke"] = {"ours": ours, "peer_2": peers, "floor_2": floors}
        rate = [x["connected"]["rate"] for x in ours]
        peer_rate = [x["connected"]["rate"] for x in peers]
        vs = ratio_list(rate, peer_rate)
        self.lines.append(
            Line(
                "7",
                f"connect rate, {n:,} sockets, ours: two daphne processes over Redis",
                "conn/s",
                values=rate,
                ratios=[("python-socketio on two", vs)],
                goal="≥ 1.0× python-socketio on two",
                met=median_of(vs) >= 1.0 if vs else None,
                note=f"{cfg['socket_concurrency']} handshakes in flight; got in "
                + ", ".join(str(x["connected"]["ok"]) for x in ours),
            )
        )
        self.lines.append(
            Line(
                "7",
                f"connect rate, {n:,} sockets, peer: python-socketio on two uvicorn processes (AsyncRedisManager)",
                "conn/s",
                values=peer_rate,
                note="got in " + ", ".join(str(x["connected"]["ok"]) for x in peers),
            )
        )
        last = [x["revoked"]["last_close_s"] for x in ours]
        self.lines.append(
            Line(
                "7",
                f"revocation of {n:,} sockets on two processes: last close after the revoke call returned",
                "s",
                values=[v for v in last if v is not None],
                goal="≤ 1 s",
                met=all(v is not None and v <= 1.0 for v in last)
                and all(x["revoked"]["session_ended_within_1s"] == x["revoked"]["sockets"] for x in ours),
                note="; ".join(revoke_note(x["revoked"]) for x in ours),
            )
        )
        floor_last = [x["revoked"]["last_close_s"] for x in floors]
        self.lines.append(
            Line(
                "7",
                f"revocation floor: bare websockets on two processes ending {n:,} sockets (a frame, then "
                "close 1000), last close after the request",
                "s",
                values=[v for v in floor_last if v is not None],
                note="; ".join(revoke_note(x["revoked"]) for x in floors),
            )
        )

    def revoke_loadgens(
        self, pair: list[Server], n: int, *, kind: str, path: str, tokens: list[str] | None = None
    ) -> list[subprocess.Popen]:
        """One revoke-mode load generator per server, ``n`` sockets in all; each reads the moment to time
        from on stdin."""
        cfg, procs = self.cfg, []
        for i, p in enumerate(pair):
            load = {
                "mode": "revoke",
                "kind": kind,
                # no task per socket: the load generators share the 2 cores with the servers while
                # those end 10,000 sessions (bench/sioload.py ProtocolSock)
                "client": "protocol",
                "urls": [p.url(path, "ws")],
                "n": n // len(pair),
                "concurrency": max(1, cfg["socket_concurrency"] // len(pair)),
                "connect_deadline": cfg["connect_deadline"] * 2,
                "wait": 30,
            }
            if tokens is not None:
                load["tokens"] = tokens[i :: len(pair)]
            procs.append(self.loadgen(load, name=f"revoke-{kind}-{i}", stdin=True))
        return procs

    def revoke_on_go(self, kid: str, watched: list[int]) -> tuple[str, list[tuple[float, float]]]:
        """Revoke signing key ``kid`` from a process of its own (bench/revoke.py, as the CLI would): it
        sets up first and revokes on a go line, so that the CPU window starts at the revoke (the servers'
        idle-time garbage collection after the connect phase must not count in it). Its JSON line, and
        the ``cpu_times`` of the ``watched`` processes just before the go."""
        revoker = subprocess.Popen(
            [PYTHON, "-m", "bench.revoke", "revoke", kid, "--on-go"],
            cwd=ROOT,
            env=self.env.env(redis=True),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if json.loads(revoker.stdout.readline() or "{}").get("ready") is not True:
                raise RuntimeError("bench.revoke did not get ready")
            cpu0 = [cpu_times(pid) for pid in watched]
            revoker.stdin.write("go\n")
            revoker.stdin.flush()
            out = revoker.stdout.read()
        except BaseException:
            revoker.kill()
            raise
        if revoker.wait(timeout=60) != 0:
            raise RuntimeError(f"bench.revoke failed ({revoker.returncode})")
        returned = out.strip().splitlines()[-1]
        if json.loads(returned).get("published") != 1:
            # Only the servers' periodic signing-key recheck would end the sessions then.
            raise RuntimeError(f"the revocation was not published over Redis: {returned}")
        return returned, cpu0

    def revoked_reports(self, procs: list[subprocess.Popen], returned: str) -> list[dict]:
        """Hand each revoke-mode load generator the moment to time from (a JSON line with
        ``returned_at``); their ``revoked`` reports."""
        for pr in procs:
            pr.stdin.write(returned + "\n")
            pr.stdin.flush()
        return [self.read_phase(pr, "revoked", 120) for pr in procs]

    def revoke_floor_round(self, n: int) -> dict:
        """The floor of the revocation row: two bare `websockets` servers (bench/peers/ws_floor.py), each
        asked on a control socket to send every other socket the frame ours sends and close it with 1000,
        all at once; the same load generators time it. What ending 10,000 WebSockets costs in Python on
        this machine with no Socket.IO, database, bus or session bookkeeping."""
        from websockets.sync.client import connect as ws_connect

        cfg = self.cfg
        pair = self.start(websockets_floor(self.env), websockets_floor(self.env))
        procs, controls = [], []
        try:
            procs = self.revoke_loadgens(pair, n, kind="ws", path="/")
            conns = [self.read_phase(pr, "connected", cfg["connect_deadline"] * 2 + 120) for pr in procs]
            controls = [ws_connect(p.url("/", "ws"), compression=None, max_size=2**20) for p in pair]
            time.sleep(1.0)
            watched = [p.pid for p in pair] + [pr.pid for pr in procs]
            cpu0 = [cpu_times(pid) for pid in watched]
            frame = '42["sessionEnded",{"reason":"signing_key_revoked","message":"The signing key was revoked."}]'
            for control in controls:
                control.send("endall:" + frame)
            returned = json.dumps({"returned_at": time.time()})
            parts = self.revoked_reports(procs, returned)
            cpu = cpu_spent(watched, cpu0, servers=len(pair))
            for pr in procs:
                pr.wait(timeout=60)
        finally:
            for control in controls:
                control.close()
            for pr in procs:
                if pr.poll() is None:
                    pr.kill()
            self.stop(*pair)
        revoked = merge_revoked(parts) | cpu
        return {"connected": merge_connected(conns), "revoked": revoked}

    # rows 4 and 6: sockets held ---------------------------------------------------------------------
    def socket_rows(self) -> None:
        cfg = self.cfg
        n = cfg["sockets"]
        why = self.probe_socketio(self.main, OUR_SIO_PATH)
        kinds = ["ours", "peer", "floor"] if why is None else ["peer", "floor"]
        per_kind: dict[str, list[dict]] = {k: [] for k in ("ours", "peer", "floor")}
        reuse: dict[str, Server] = {}
        if cfg["fresh_socket_servers"]:
            self.stop_shared()  # fresh servers per run below; nothing else left running

        tokens = self.seed["customer_tokens"]
        for r in range(cfg["runs"]):
            if cfg["fresh_socket_servers"]:
                self.stop(*reuse.values())
                reuse = dict(zip(kinds, self.start(*(self.make_server(k) for k in kinds))))
            else:
                reuse = dict(zip(kinds, self.shared_servers(*kinds)))
            order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
            procs = {}
            for kind in order:  # connect one server at a time; the holds overlap
                server = reuse[kind]
                path = {"ours": OUR_SIO_PATH, "peer": PEER_SIO_PATH, "floor": "/"}[kind]
                load = {
                    "mode": "hold",
                    "kind": "ws" if kind == "floor" else "sio",
                    "urls": [server.url(path, "ws")],
                    "tokens": tokens if kind != "floor" else None,
                    "n": n,
                    "hold": cfg["hold"],
                    "concurrency": cfg["socket_concurrency"],
                    "connect_deadline": cfg["connect_deadline"],
                    "warmup": cfg["socket_warmup"],
                    "server_pid": server.pid,
                }
                profiling = self.profile and kind == "ours" and r == 0
                spy = self.spy_start(server.pid, "sockets-connect") if profiling else None
                procs[kind] = self.loadgen(load, name=f"hold-{kind}")
                connected = self.read_phase(procs[kind], "connected", cfg["connect_deadline"] + 120)
                if spy:
                    self.spy_stop(spy)
                per_kind[kind].append({"connected": connected})
                self.log(f"sockets run {r + 1}: {kind} {connected['ok']}/{n} in {connected['seconds']:.1f}s")
            for kind in order:
                held = self.read_phase(procs[kind], "held", cfg["hold"] + cfg["connect_deadline"] * 3 + 120)
                procs[kind].wait(timeout=120)
                per_kind[kind][-1]["held"] = held
            self.log(f"sockets run {r + 1}/{cfg['runs']} done")
        if cfg["fresh_socket_servers"]:
            self.stop(*reuse.values())
        self.raw["sockets"] = per_kind

        def series(kind, fn):
            return [fn(x) for x in per_kind[kind]]

        def kib_per_socket(x):
            alive = x["held"]["alive"]
            before, end = x["connected"]["rss_before_kib"], x["held"]["rss_end_kib"]
            return (end - before) / alive if alive and before and end else None

        goal_sockets = 10_000
        full = n >= goal_sockets
        labels = {
            "ours": ("4", "ours: daphne + Socket.IO consumer"),
            "peer": ("6", "peer: python-socketio (uvicorn)"),
            "floor": ("6", "floor: bare websockets"),
        }
        for kind in ("ours", "peer", "floor"):
            row, who = labels[kind]
            if not per_kind[kind]:
                detail = f"Socket.IO endpoint: {why}" if kind == "ours" else ""
                for what, unit in (
                    ("sockets open after hold", "sockets"),
                    ("RSS per socket", "KiB"),
                    ("connect rate", "conn/s"),
                ):
                    self.lines.append(
                        Line(row, f"{what}, {who}", unit, na=NOT_BUILT if kind == "ours" else "no data", note=detail)
                    )
                continue
            alive = series(kind, lambda x: x["held"]["alive"])
            errors = Counter()
            for x in per_kind[kind]:
                errors.update(x["connected"]["errors"])
            pings = series(kind, lambda x: x["held"]["pings_answered"])
            note = f"of {n:,} tried, held {cfg['hold']} s; Engine.IO pings answered {fmt(median_of(pings))}"
            if kind == "floor":
                note = f"of {n:,} tried, held {cfg['hold']} s; WebSocket pings by the library"
            if errors:
                top = "; ".join(f"{k} ×{v}" for k, v in errors.most_common(2))
                note += f"; connect errors: {top}"
            sockets_goal = f"{goal_sockets:,} on one process" if kind == "ours" else ""
            self.lines.append(
                Line(
                    row,
                    f"sockets open after hold, {who}",
                    "sockets",
                    values=alive,
                    goal=sockets_goal,
                    met=(median_of(alive) >= goal_sockets) if kind == "ours" and full else None,
                    note=note if full or kind != "ours" else note + "; 10,000 only in `make bench`",
                )
            )
            kib = series(kind, kib_per_socket)
            peer_kib = series("peer", kib_per_socket) if per_kind["peer"] else None
            fresh = cfg["fresh_socket_servers"]
            self.lines.append(
                Line(
                    row,
                    f"RSS per socket, {who}",
                    "KiB",
                    values=kib,
                    ratios=[("python-socketio", ratio_list(kib, peer_kib))] if kind != "peer" and peer_kib else [],
                    goal="≤ 40 KiB" if kind == "ours" else "",
                    met=(median_of(kib) <= 40) if kind == "ours" and fresh and median_of(kib) is not None else None,
                    note="(RSS after hold − RSS before connecting) / sockets open"
                    + ("" if fresh else "; servers reused across runs: not comparable"),
                )
            )
            rate = series(kind, lambda x: x["connected"]["rate"])
            peer_rate = series("peer", lambda x: x["connected"]["rate"]) if per_kind["peer"] else None
            vs = ratio_list(rate, peer_rate) if kind != "peer" and peer_rate else []
            self.lines.append(
                Line(
                    row,
                    f"connect rate, {who}",
                    "conn/s",
                    values=rate,
                    ratios=[("python-socketio", vs)] if vs else [],
                    goal="≥ 1.0× python-socketio" if kind == "ours" else "",
                    met=(median_of(vs) >= 1.0) if kind == "ours" and vs else None,
                    note=f"{cfg['socket_concurrency']} handshakes in flight; "
                    f"ping interval {per_kind[kind][0]['connected'].get('ping_interval_ms')} ms"
                    if kind != "floor"
                    else f"{cfg['socket_concurrency']} handshakes in flight",
                )
            )

    # profiles ---------------------------------------------------------------------------------------
    def spy_start(self, pid: int, name: str, *, measured: bool = True):
        """py-spy samples a server (200 Hz, without pausing it) until spy_stop."""
        spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        out = RESULTS / f"profile-{name}.raw"
        RESULTS.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        return proc, out, name, measured

    def spy_stop(self, spy) -> None:
        proc, out, name, measured = spy
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        if out.exists():
            summary_path = RESULTS / f"profile-{name}.txt"
            summary_path.write_text(summarise_profile(out))
            self.notes.append(
                f"profile of `{name}`: bench/results/profile-{name}.txt (collapsed stacks in .raw)"
                + (
                    "; py-spy sampled that server during the measured runs"
                    if measured
                    else "; an extra, unmeasured run"
                )
            )

    def profile_slowest_http(self) -> None:
        runs = self.raw.get("http", {})
        ours = [k for k in ("client", "api_key", "api_token", "customer_jwt") if k in runs]
        if not ours or "none" not in runs:
            return
        slowest = min(ours, key=lambda k: median_of([x["rps"] for x in runs[k]]))
        path, headers = self.http_targets()[slowest]
        spy = self.spy_start(self.main.pid, f"http-{slowest}", measured=False)
        httpload.wrk(
            self.main.url(path),
            headers,
            seconds=max(3.0, self.cfg["http_seconds"]),
            connections=self.cfg["http_connections"],
        )
        self.spy_stop(spy)

    # output ------------------------------------------------------------------------------------
    def markdown(self) -> str:
        i, c = self.info, self.cfg
        head = [
            f"### Benchmark ({i['mode']} run, {i['when']}, commit {i['commit']})",
            "",
            f"All figures measured in this one run on one machine with **{i['cpus']} cores shared by the server(s) "
            "and the load generator** (wrk, 1 thread, "
            f"{c['http_connections']} connections, for HTTP; a Python asyncio client process for sockets), so "
            "absolute numbers move with whatever else runs there; compare rows by their ratios. Settings are "
            "identical across rows: one server process each (daphne for ours; uvicorn for python-socketio) "
            "except the two-process rows, which share Redis (ours: the live bus; python-socketio: its "
            f"AsyncRedisManager); DEBUG=0, no access log, {i['database']} database, project middleware. "
            f"Each line: median of {c['runs']} runs (min, max); ratios are per run "
            "(rows measured in the same round) and summarised the same way. "
            f"HTTP runs {c['http_seconds']} s each; sockets: {c['sockets']:,} per server, "
            f"{c['socket_concurrency']} handshakes in flight, held {c['hold']} s with the servers' pings; fan-out: "
            f"{c['fanout_customers']:,} customers with one socket each, one send call per run; recovery: "
            f"{c['recovery_customers']:,} sockets, {c['recovery_messages']} messages missed, a restarted server. "
            f"Load average at start {i['loadavg_start'][0]:.2f}, end {i['loadavg_end'][0]:.2f}; "
            f"file-descriptor limit {i['fd_limit']:,}; wall time {i['seconds']} s."
            + (
                " **Quick run: small counts and servers reused across runs, to try the bench; not figures to quote.**"
                if i["mode"] == "quick"
                else ""
            ),
            "",
            "| # | measurement | median | min | max | unit | ratio (median, min–max) | goal | met | notes |",
            "|---|---|---:|---:|---:|---|---|---|:-:|---|",
        ]

        # 1, 2, 3, sockets (4 with its peers), fan-out (5 with its peers), recovery, inbox
        def topic(line: Line) -> int:
            return 4 if line.what.startswith("fan-out") else {"1": 0, "2": 1, "3": 2, "8": 5, "9": 6}.get(line.row, 3)

        lines = sorted(self.lines, key=topic)  # stable: the order within a topic stays
        body = ["| " + " | ".join(cell.replace("|", "\\|") for cell in line.cells()) + " |" for line in lines]
        tail = [""] + [f"- {n}" for n in self.notes] if self.notes else []
        return "\n".join(head + body + tail) + "\n"

    def write(self) -> None:
        text = self.markdown()
        print(text)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.md").write_text(text)
        (RESULTS / "latest.json").write_text(
            json.dumps(
                {
                    "info": self.info,
                    "lines": [asdict(line) for line in self.lines],
                    "notes": self.notes,
                    "raw": self.raw,
                },
                indent=1,
                default=str,
            )
        )


def summarise_profile(raw_path: Path, top: int = 25) -> str:
    """Top functions by own and by total samples, from py-spy's collapsed stacks."""
    own, total, samples = Counter(), Counter(), 0
    for line in raw_path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    out = [f"{samples} samples", "", "own time:"]
    out += [f"{100 * v / samples:5.1f}%  {k}" for k, v in own.most_common(top)]
    out += ["", "total time (function on the stack):"]
    out += [f"{100 * v / samples:5.1f}%  {k}" for k, v in total.most_common(top * 2)]
    return "\n".join(out) + "\n"


def redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return sha + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute (make bench-quick)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma list of row groups: {', '.join(GROUPS)}")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the slowest of our HTTP rows, our socket connects and both servers through a revocation "
        "(bench/results/profile-*)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database and server logs")
    parser.add_argument("--sockets", type=int, help="sockets per server in the sockets-held rows")
    parser.add_argument(
        "--connect-deadline", type=float, help="seconds one server may take to connect its sockets, per run (full: 80)"
    )
    parser.add_argument("--runs", type=int, help="runs per row (at least 3 for figures; fewer only to try the bench)")
    parser.add_argument("--hold", type=float, help="seconds the sockets are held (full: 60)")
    args = parser.parse_args(argv)
    only = {g.strip() for g in args.only.split(",") if g.strip()}
    unknown = only - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    mode = "quick" if args.quick else "full"
    if args.sockets:
        MODES[mode]["sockets"] = args.sockets
    if args.connect_deadline:
        MODES[mode]["connect_deadline"] = args.connect_deadline
    if args.runs:
        MODES[mode]["runs"] = args.runs
        MODES[mode]["fanout_runs"] = args.runs
        MODES[mode]["recovery_runs"] = args.runs
    if args.hold is not None:
        MODES[mode]["hold"] = args.hold
    return Bench(mode, only=only, profile=args.profile, keep=args.keep).run()
