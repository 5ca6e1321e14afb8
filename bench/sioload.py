"""Socket load generator, run in its own process: ``python -m bench.sioload CONFIG.json``.

Speaks just enough Engine.IO v4 / Socket.IO v5 over a WebSocket to be the seed's client: it reads the
open packet, sends ``40{"token": "Bearer <jwt>"}``, waits for the CONNECT answer, answers every server
ping ``2`` with ``3`` and time-stamps the first ``42["inAppMessage", …]``. ``kind: "ws"`` is the bare
WebSocket floor: open is connected, any text frame is the message.

Config ``client: "protocol"`` reads every socket in an ``asyncio.Protocol`` driving websockets' sans-I/O
``ClientProtocol`` (``ProtocolSock``) instead of the asyncio client with a reader task per socket: the
same frames on the wire for a fraction of the CPU, for rows where the load generators share the cores
with the servers while both are busy (the revocation row).

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
- ``recovery``: open one socket per token and keep each one's pid and offset, drop them all, wait for
  the driver (stdin) to send messages and restart the server, then reconnect them all at once, with
  pid and offset (``variant: recover``) or without, followed by ``GET customer/inbox`` (``inbox``),
  and print ``recovered``: when the last one was caught up, and whether each got what it missed.
Each printed line is one JSON object; the driver (bench/run.py) reads them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

EVENT = "inAppMessage"
EVENT_PREFIX = f'42["{EVENT}"'
SESSION_ENDED_PREFIX = '42["sessionEnded"'


class ArrivalStampedConnection(ClientConnection):
    """Notes when the bytes of a ``sessionEnded`` reached this process (``data_received``), before this
    loop, busy with thousands of sockets, gets round to the task that reads the frame (``Sock.ended_at``):
    the gap between the two is the load generator's own backlog, not the server's."""

    session_ended_bytes_at: float | None = None

    def data_received(self, data: bytes) -> None:
        if self.session_ended_bytes_at is None and b'"sessionEnded"' in data:
            self.session_ended_bytes_at = time.time()
        super().data_received(data)


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


async def open_ws(url: str):
    """A WebSocket as the other modes open theirs (no compression, no client pings)."""
    return await connect(
        url,
        compression=None,
        ping_interval=None,
        open_timeout=60,
        close_timeout=1,
        max_size=2**20,
        user_agent_header=None,
    )


async def http_get_json(url: str, headers: dict[str, str]) -> tuple[int, object]:
    """One GET on a connection of its own (as each client has), HTTP/1.1 with ``Connection: close``;
    (status, JSON body). Plain asyncio streams: cheaper for the load generator than an HTTP client."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
        request += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(request.encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in fields:
            body = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding") == "chunked":
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                body += await reader.readexactly(size)
                await reader.readexactly(2)
        else:
            body = await reader.read()
    finally:
        writer.close()
    return status, json.loads(body) if body else None


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


class ProtocolSock(asyncio.Protocol):
    """One socket read without a task of its own: bytes from the loop go straight into websockets'
    sans-I/O ``ClientProtocol`` and each text frame to ``Gen.on_frame``; the Engine.IO open and the
    Socket.IO CONNECT are answered here, as ``Gen.sio_connect`` does for the asyncio client. Stands in
    for ``Sock.ws`` (``transport``, ``session_ended_bytes_at``)."""

    def __init__(self, gen: Gen, url: str, auth: dict | None) -> None:
        self.gen, self.auth = gen, auth
        self.protocol = ClientProtocol(parse_uri(url), max_size=2**20)
        self.sock = Sock(ws=self)
        self.connected: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.session_ended_bytes_at: float | None = None

    @classmethod
    async def open(cls, gen: Gen, url: str, token: str | None) -> Sock:
        parts = urlsplit(url)
        auth = {"token": f"Bearer {token}"} if gen.cfg["kind"] == "sio" else None
        _, self = await asyncio.get_running_loop().create_connection(
            lambda: cls(gen, url, auth), parts.hostname, parts.port
        )
        try:
            await asyncio.wait_for(self.connected, 30)
        except BaseException:
            self.transport.abort()
            raise
        return self.sock

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        request = self.protocol.connect()
        self.protocol.send_request(request)
        self.flush()

    def data_received(self, data: bytes) -> None:
        if self.session_ended_bytes_at is None and b'"sessionEnded"' in data:
            self.session_ended_bytes_at = time.time()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                if event.status_code != 101:
                    self.refuse(ConnectionError(f"handshake answered {event.status_code}"))
                elif self.auth is None:  # the bare WebSocket floor: open is connected
                    self.accept()
            elif event.opcode is Opcode.TEXT:
                self.on_text(event.data.decode())
        self.flush()

    def on_text(self, frame: str) -> None:
        if self.sock.connected:
            reply = self.gen.on_frame(self.sock, frame)
        elif frame.startswith("0"):  # Engine.IO open
            self.gen.ping_interval_ms = json.loads(frame[1:]).get("pingInterval")
            reply = "40" + json.dumps(self.auth)
        elif frame == "2":
            reply = "3"
        elif frame.startswith("40"):
            self.accept()
            reply = None
        elif frame.startswith("44"):
            self.refuse(ConnectionRefusedError(f"connect_error {frame[2:200]}"))
            reply = None
        else:
            self.refuse(ConnectionError(f"unexpected packet before CONNECT: {frame[:80]!r}"))
            reply = None
        if reply is not None and self.protocol.state.name == "OPEN":
            self.protocol.send_text(reply.encode())

    def accept(self) -> None:
        self.sock.connected = True
        if not self.connected.done():
            self.connected.set_result(None)

    def refuse(self, exc: Exception) -> None:
        if not self.connected.done():
            self.connected.set_exception(exc)
        self.transport.abort()

    def flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.receive_eof()
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("closed before the CONNECT answer"))
        if self.sock.connected:
            self.gen.on_closed(self.sock, self.protocol.close_code)


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
        if self.cfg.get("client") == "protocol":
            return await ProtocolSock.open(self, url, token)
        sock = Sock()
        ws = await connect(
            url,
            compression=None,
            ping_interval=None,
            open_timeout=30,
            close_timeout=1,
            max_size=2**20,
            user_agent_header=None,
            create_connection=ArrivalStampedConnection,
        )
        sock.ws = ws
        if self.cfg["kind"] == "sio":
            await self.sio_connect(ws, {"token": f"Bearer {token}"})
        sock.connected = True
        sock.reader = asyncio.create_task(self.read(sock))
        return sock

    async def sio_connect(self, ws, auth: dict) -> dict:
        """Engine.IO open, then the Socket.IO CONNECT with ``auth``; the CONNECT answer's data."""
        opened = await asyncio.wait_for(ws.recv(), 30)
        if not opened.startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {opened[:80]!r}")
        self.ping_interval_ms = json.loads(opened[1:]).get("pingInterval")
        await ws.send("40" + json.dumps(auth))
        while True:
            answer = await asyncio.wait_for(ws.recv(), 30)
            if answer == "2":
                await ws.send("3")
                continue
            if answer.startswith("40"):
                return json.loads(answer[2:] or "{}")
            if answer.startswith("44"):
                ws.transport.abort()
                raise ConnectionRefusedError(f"connect_error {answer[2:200]}")
            raise ConnectionError(f"unexpected packet before CONNECT: {answer[:80]!r}")

    def on_frame(self, sock: Sock, frame: str) -> str | None:
        """What a socket does with a text frame once connected; the reply to send, if any."""
        if frame.startswith(SESSION_ENDED_PREFIX):  # also the floor's, which sends ours (bench/peers/ws_floor.py)
            sock.ended_at = time.time()
            return None
        if self.cfg["kind"] == "sio":
            if frame == "2":
                sock.pings += 1
                return "3"
            if not frame.startswith(EVENT_PREFIX):
                return None
        if sock.got_at is None and self.armed:
            sock.got_at = time.perf_counter()
            self.got += 1
            if self.got >= self.expected:
                self.all_got.set()
        return None

    def on_closed(self, sock: Sock, code: int | None) -> None:
        if not getattr(sock, "aborting", False):
            sock.closed_by_server = True
            sock.connected = False
            sock.closed_at = time.time()
            sock.close_code = code  # 1006 when the TCP connection ended without a close frame

    async def read(self, sock: Sock) -> None:
        try:
            async for frame in sock.ws:
                reply = self.on_frame(sock, frame)
                if reply is not None:
                    try:
                        await sock.ws.send(reply)
                    except ConnectionClosed:
                        # The close frame is already read, but frames before it (sessionEnded) are
                        # still queued: keep reading them.
                        pass
        except Exception:
            pass
        self.on_closed(sock, sock.ws.close_code)

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
        # This process's garbage collections are its own pauses, timed as the server's (a real client
        # holds one socket): a full one walked its 5,000 connections' objects for 0.4-0.6 s, collecting
        # nothing, inside the revocation in each load generator, and young ones took 50-150 ms each
        # while it read the closes (gc.callbacks trace). Its connections are frozen once connected, as
        # the servers freeze their start-up objects, and it collects nothing until it has reported.
        gc.collect()
        gc.freeze()
        gc.disable()
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
        arrived = [s.ws.session_ended_bytes_at for s in self.socks if s.ws.session_ended_bytes_at is not None]
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
                # when the last sessionEnded's bytes reached this process (see ArrivalStampedConnection)
                "last_session_ended_arrived_s": max(arrived) - returned_at if arrived else None,
                "session_ended_arrived_within_1s": sum(1 for t in arrived if t - returned_at <= 1.0),
                "last_close_s": max(closed) - returned_at if closed else None,
            }
        )
        gc.enable()
        await self.close_all()

    async def recovery(self) -> None:
        """Connect ``n`` sockets (one per token) and keep each one's pid and offset; drop them all; read
        the go line from stdin (``{"url", "http", "message_ids"}``: the restarted server, and the
        messages sent meanwhile); reconnect them all at once and time each until it is caught up.

        ``variant`` ``recover``: the CONNECT carries ``{token, pid, offset}``; caught up at the
        ``unreadCount`` that follows the replayed ``inAppMessage`` events. ``inbox``: a plain CONNECT,
        then, once answered, ``GET <http>/api/v1/customer/inbox?limit=<inbox_limit>`` with the same
        token (what an app does when ``socket.recovered`` is false, so also a ``recover`` socket whose
        recovery the server refused); caught up at that answer."""
        cfg = self.cfg
        n, tokens, variant = cfg["n"], cfg["tokens"], cfg["variant"]
        state: list[dict | None] = [None] * n
        first_ws: list = []
        sem = asyncio.Semaphore(cfg.get("concurrency", 50))

        async def first(i: int) -> None:
            async with sem:
                try:
                    ws = await open_ws(cfg["urls"][0])
                    first_ws.append(ws)
                    answer = await self.sio_connect(ws, {"token": f"Bearer {tokens[i]}"})
                    while True:  # the unreadCount right after the CONNECT answer carries the first offset
                        frame = await asyncio.wait_for(ws.recv(), 30)
                        if frame == "2":
                            await ws.send("3")
                        elif frame.startswith('42["unreadCount"'):
                            args = json.loads(frame[2:])
                            break
                    state[i] = {"pid": answer.get("pid"), "offset": args[2] if len(args) > 2 else None}
                except Exception as exc:
                    self.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(first(i) for i in range(n)))
        ok = [s for s in state if s is not None]
        emit(
            {
                "phase": "connected",
                "ok": len(ok),
                "seconds": time.perf_counter() - started,
                "with_pid": sum(1 for s in ok if s["pid"]),
                "with_offset": sum(1 for s in ok if s["offset"] is not None),
                "errors": dict(self.errors),
            }
        )
        for ws in first_ws:  # the transport goes, as when the process that held them is stopped
            ws.transport.abort()
        await asyncio.sleep(0.2)
        emit({"phase": "closed"})

        go = json.loads(await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline))
        expected = go["message_ids"]
        self.errors.clear()
        sem = asyncio.Semaphore(cfg.get("reconnect_concurrency") or n)
        second_ws: list = []
        keepers: list[asyncio.Task] = []
        answered: list[float] = []  # seconds from the start to each CONNECT answer
        caught_up: list[float] = []  # ... to each socket (or client) having what it missed
        recovered = replay_ok = inbox_ok = 0
        t0 = time.perf_counter()

        async def keep(ws) -> None:  # answer the server's pings until the end
            try:
                async for frame in ws:
                    if frame == "2":
                        await ws.send("3")
            except Exception:
                pass

        async def again(i: int) -> None:
            nonlocal recovered, replay_ok, inbox_ok
            st = state[i]
            auth = {"token": f"Bearer {tokens[i]}"}
            if variant == "recover":
                auth |= {"pid": st["pid"], "offset": st["offset"]}
            async with sem:
                try:
                    ws = await open_ws(go["url"])
                    second_ws.append(ws)
                    answer = await self.sio_connect(ws, auth)
                    answered.append(time.perf_counter() - t0)
                    if variant == "recover" and answer.get("pid") == st["pid"]:
                        recovered += 1
                        got, offsets = [], []
                        while True:
                            frame = await asyncio.wait_for(ws.recv(), 60)
                            if frame == "2":
                                await ws.send("3")
                            elif frame.startswith(EVENT_PREFIX):
                                args = json.loads(frame[2:])
                                got.append(args[1]["id"])
                                offsets.append(int(args[2]))
                            elif frame.startswith('42["unreadCount"'):
                                last = int(json.loads(frame[2:])[2])
                                break
                        caught_up.append(time.perf_counter() - t0)
                        replay_ok += got == expected and offsets == sorted(offsets) and last == offsets[-1]
                        keepers.append(asyncio.create_task(keep(ws)))
                    else:  # a plain reconnect, or a recovery the server refused: the app reads its inbox
                        keepers.append(asyncio.create_task(keep(ws)))
                        status, body = await http_get_json(
                            f"{go['http']}/api/v1/customer/inbox?limit={cfg['inbox_limit']}",
                            {"Authorization": f"Bearer {tokens[i]}"},
                        )
                        if status != 200:
                            raise ConnectionError(f"GET customer/inbox answered {status}")
                        caught_up.append(time.perf_counter() - t0)
                        ids = [item["id"] for item in body["results"]]
                        inbox_ok += ids[: len(expected)] == expected[::-1]  # newest first
                except Exception as exc:
                    self.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1

        await asyncio.wait_for(
            asyncio.gather(*(again(i) for i in range(n) if state[i] is not None)), cfg.get("wait", 120)
        )
        answered.sort()
        caught_up.sort()
        emit(
            {
                "phase": "recovered",
                "variant": variant,
                "sockets": len(ok),
                "caught_up": len(caught_up),
                "recovered": recovered,  # the server answered with the same pid (else: inbox read)
                "replay_ok": replay_ok,  # exactly the messages sent meanwhile, in order, offsets rising
                "inbox_ok": inbox_ok,  # the inbox page starts with the messages sent meanwhile
                "last_connect_answer_s": answered[-1] if answered else None,
                "last_caught_up_s": caught_up[-1] if caught_up else None,
                "p50_caught_up_s": caught_up[len(caught_up) // 2] if caught_up else None,
                "errors": dict(self.errors),
            }
        )
        for task in keepers:
            task.cancel()
        for ws in second_ws:
            ws.transport.abort()


async def main(path: str) -> None:
    cfg = json.loads(open(path).read())
    gen = Gen(cfg)
    gen.expected = 0
    await getattr(gen, cfg["mode"])()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
