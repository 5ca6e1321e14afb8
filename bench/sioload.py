"""Socket load generator, run in its own process: ``python -m bench.sioload CONFIG.json``.

Speaks just enough Engine.IO v4 / Socket.IO v5 over a WebSocket to be the seed's client: it reads the
open packet, sends ``40{"token": "Bearer <jwt>"}``, waits for the CONNECT answer, answers every server
ping ``2`` with ``3`` and time-stamps the first ``42["inAppMessage", …]``. ``kind: "ws"`` is the bare
WebSocket floor: open is connected, any text frame is the message.

The client offers no permessage-deflate (so no server keeps zlib state and memory compares sockets
only) and sends no WebSocket pings of its own (the servers' pings are answered by the library).

Modes (config ``mode``):
- ``hold``: warm up, read the server's RSS, open ``n`` sockets with at most ``concurrency`` handshakes
  in flight, print a ``connected`` line, keep them open ``hold`` seconds, print a ``held`` line.
- ``fanout``: open one socket per customer, then ``sends`` times: POST the trigger from another
  process (bench/sender.py, which times the answer) or, for the floor, send a broadcast request on a
  control socket, and time each socket's first message after it.
- ``revoke``: open ``n`` sockets over ``urls``, print ``connected``, run ``revoke_argv`` (a command that
  revokes the tokens' signing key and prints ``{"returned_at": unix time}`` when the call returned) or,
  without one, read that line from stdin (the driver revokes once for several load generators),
  wait until every socket is closed (at most ``wait`` s) and print ``revoked``: how many got
  ``sessionEnded``, their close codes, and the last ``sessionEnded`` and close after the return.
Each printed line is one JSON object; the driver (bench/run.py) reads them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

EVENT = "inAppMessage"
EVENT_PREFIX = f'42["{EVENT}"'


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Sock:
    ws: object = None
    connected: bool = False
    closed_by_server: bool = False
    pings: int = 0
    got_at: float | None = None  # perf_counter of the first message since `armed`
    ended_at: float | None = None  # time.time() of a sessionEnded event
    closed_at: float | None = None  # time.time() the connection closed
    close_code: int | None = None
    reader: asyncio.Task | None = None


@dataclass
class Gen:
    cfg: dict
    socks: list[Sock] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    ping_interval_ms: int | None = None
    armed: bool = False
    got: int = 0
    all_got: asyncio.Event | None = None

    async def open_one(self, url: str, token: str | None) -> Sock:
        sock = Sock()
        ws = await connect(
            url,
            compression=None,
            ping_interval=None,
            open_timeout=30,
            close_timeout=1,
            max_size=2**20,
            user_agent_header=None,
        )
        sock.ws = ws
        if self.cfg["kind"] == "sio":
            opened = await asyncio.wait_for(ws.recv(), 30)
            if not opened.startswith("0"):
                raise ConnectionError(f"no Engine.IO open packet: {opened[:80]!r}")
            self.ping_interval_ms = json.loads(opened[1:]).get("pingInterval")
            await ws.send("40" + json.dumps({"token": f"Bearer {token}"}))
            while True:
                answer = await asyncio.wait_for(ws.recv(), 30)
                if answer == "2":
                    await ws.send("3")
                    continue
                if answer.startswith("40"):
                    break
                if answer.startswith("44"):
                    ws.transport.abort()
                    raise ConnectionRefusedError(f"connect_error {answer[2:200]}")
                raise ConnectionError(f"unexpected packet before CONNECT: {answer[:80]!r}")
        sock.connected = True
        sock.reader = asyncio.create_task(self.read(sock))
        return sock

    async def read(self, sock: Sock) -> None:
        sio = self.cfg["kind"] == "sio"
        try:
            async for frame in sock.ws:
                if sio and frame == "2":
                    sock.pings += 1
                    try:
                        await sock.ws.send("3")
                    except ConnectionClosed:
                        # The close frame is already read, but frames before it (sessionEnded) are
                        # still queued: keep reading them.
                        pass
                elif sio and frame.startswith('42["sessionEnded"'):
                    sock.ended_at = time.time()
                elif sock.got_at is None and self.armed and (not sio or frame.startswith(EVENT_PREFIX)):
                    sock.got_at = time.perf_counter()
                    self.got += 1
                    if self.got >= self.expected:
                        self.all_got.set()
        except Exception:
            pass
        if not getattr(sock, "aborting", False):
            sock.closed_by_server = True
            sock.connected = False
            sock.closed_at = time.time()
            sock.close_code = sock.ws.close_code  # 1006 when the TCP connection ended without a close frame

    async def open_many(self, n: int, deadline: float) -> tuple[int, float]:
        urls, tokens = self.cfg["urls"], self.cfg.get("tokens") or [None]
        sem = asyncio.Semaphore(self.cfg.get("concurrency", 50))

        async def one(i: int) -> None:
            async with sem:
                if time.monotonic() > deadline:
                    self.errors["not attempted (connect deadline)"] += 1
                    return
                try:
                    self.socks.append(await self.open_one(urls[i % len(urls)], tokens[i % len(tokens)]))
                except Exception as exc:  # counted, never fatal: the table reports how many got in
                    self.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return sum(s.connected for s in self.socks), time.perf_counter() - started

    async def close_all(self) -> None:
        for sock in self.socks:
            sock.aborting = True
            if sock.reader:
                sock.reader.cancel()
            try:
                sock.ws.transport.abort()
            except Exception:
                pass
        await asyncio.sleep(0.2)
        self.socks.clear()

    # --- modes ---------------------------------------------------------------------------------
    async def hold(self) -> None:
        cfg = self.cfg
        pid = cfg.get("server_pid")
        if cfg.get("warmup"):  # first connections import lazily-loaded code: keep that out of RSS/socket
            await self.open_many(cfg["warmup"], time.monotonic() + 30)
            await self.close_all()
            self.errors.clear()
            await asyncio.sleep(0.3)
        rss_before = rss_kib(pid) if pid else None
        ok, seconds = await self.open_many(cfg["n"], time.monotonic() + cfg.get("connect_deadline", 300))
        emit(
            {
                "phase": "connected",
                "ok": ok,
                "seconds": seconds,
                "rate": ok / seconds if seconds else 0,
                "errors": dict(self.errors),
                "rss_before_kib": rss_before,
                "rss_connected_kib": rss_kib(pid) if pid else None,
                "ping_interval_ms": self.ping_interval_ms,
            }
        )
        await asyncio.sleep(cfg["hold"])
        alive = sum(s.connected for s in self.socks)
        emit(
            {
                "phase": "held",
                "alive": alive,
                "closed_by_server": sum(s.closed_by_server for s in self.socks),
                "pings_answered": sum(s.pings for s in self.socks),
                "hold_seconds": cfg["hold"],
                "rss_end_kib": rss_kib(pid) if pid else None,
            }
        )
        await self.close_all()

    async def fanout(self) -> None:
        cfg = self.cfg
        ok, seconds = await self.open_many(cfg["n"], time.monotonic() + cfg.get("connect_deadline", 120))
        emit({"phase": "connected", "ok": ok, "seconds": seconds, "errors": dict(self.errors)})
        await asyncio.sleep(cfg.get("pause", 0.3))
        runs = []
        control = sender = None
        if cfg["kind"] == "ws":
            control = await connect(cfg["urls"][0], compression=None, ping_interval=None, max_size=2**22)
        else:  # the send call comes from another process (bench/sender.py says why)
            sender = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.sender", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
            )
            trigger = (json.dumps(cfg["trigger"]) + "\n").encode()
        try:
            for _ in range(cfg["sends"]):
                for s in self.socks:
                    s.got_at = None
                self.got, self.expected = 0, ok
                self.all_got = asyncio.Event()
                self.armed = True
                status, body = None, ""
                if control is not None:
                    t0 = time.perf_counter()
                    await control.send("broadcast:" + json.dumps(cfg["message"]))
                    status, responded = 0, time.perf_counter() - t0
                else:
                    sender.stdin.write(trigger)
                    await sender.stdin.drain()
                    answer = json.loads(await sender.stdout.readline())
                    t0, status, body = answer["t0"], answer["status"], answer["body"]
                    responded = answer["response_ms"] / 1000
                # Wait for every socket, but give up once nothing has arrived for `quiet` seconds
                # (lost messages must not cost the whole `wait`).
                deadline, seen = time.perf_counter() + cfg.get("wait", 15), -1
                while not self.all_got.is_set() and time.perf_counter() < deadline:
                    if self.got == seen:
                        break
                    seen = self.got
                    try:
                        await asyncio.wait_for(self.all_got.wait(), cfg.get("quiet", 3))
                    except TimeoutError:
                        pass
                self.armed = False
                lat = sorted((s.got_at - t0) * 1000 for s in self.socks if s.got_at is not None)
                runs.append(
                    {
                        "status": status,
                        "body": body,
                        "response_ms": responded * 1000,
                        "delivered": len(lat),
                        "expected": ok,
                        "latencies_ms": lat,
                    }
                )
                await asyncio.sleep(cfg.get("pause", 0.3))
        finally:
            if control is not None:
                control.transport.abort()
            if sender is not None:
                sender.stdin.close()
                await sender.wait()
        emit({"phase": "fanout", "runs": runs})
        await self.close_all()

    async def revoke(self) -> None:
        cfg = self.cfg
        ok, seconds = await self.open_many(cfg["n"], time.monotonic() + cfg.get("connect_deadline", 300))
        emit(
            {
                "phase": "connected",
                "ok": ok,
                "seconds": seconds,
                "rate": ok / seconds if seconds else 0,
                "errors": dict(self.errors),
            }
        )
        await asyncio.sleep(cfg.get("pause", 1.0))
        if cfg.get("revoke_argv"):
            proc = await asyncio.create_subprocess_exec(
                *cfg["revoke_argv"], stdout=asyncio.subprocess.PIPE, env={**os.environ, **cfg.get("revoke_env", {})}
            )
            out, _ = await proc.communicate()
            returned_at = json.loads(out.decode().strip().splitlines()[-1])["returned_at"]
        else:  # one of several load generators: the driver revokes and sends the return time on stdin
            line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            returned_at = json.loads(line)["returned_at"]
        deadline = time.monotonic() + cfg.get("wait", 30)
        while any(s.connected for s in self.socks) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        ended = [s.ended_at for s in self.socks if s.ended_at is not None]
        closed = [s.closed_at for s in self.socks if s.closed_at is not None]
        emit(
            {
                "phase": "revoked",
                "returned_at": returned_at,
                "sockets": ok,
                "session_ended": len(ended),
                "session_ended_within_1s": sum(1 for t in ended if t - returned_at <= 1.0),
                "close_codes": dict(Counter(str(s.close_code) for s in self.socks if s.closed_at is not None)),
                "still_open": sum(s.connected for s in self.socks),
                "first_session_ended_s": min(ended) - returned_at if ended else None,
                "last_session_ended_s": max(ended) - returned_at if ended else None,
                "last_close_s": max(closed) - returned_at if closed else None,
            }
        )
        await self.close_all()


async def main(path: str) -> None:
    cfg = json.loads(open(path).read())
    gen = Gen(cfg)
    gen.expected = 0
    await getattr(gen, cfg["mode"])()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
