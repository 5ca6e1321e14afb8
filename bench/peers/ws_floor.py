"""Floor (rows 6 and 7): a bare `websockets` server. It echoes every frame, and a text frame
``broadcast:<payload>`` is sent on to every other open socket (websockets.broadcast), which is the
floor for fan-out; ``endall:<payload>`` sends ``<payload>`` to every other open socket and closes it
with 1000, all at once, which is the floor for a revocation's end of every session. No Socket.IO, no
authentication, no database: what a WebSocket costs by itself.

Run: ``python -m bench.peers.ws_floor --port PORT``.
"""

import argparse
import asyncio

from websockets.asyncio.server import broadcast, serve

CLIENTS: set = set()
PREFIX = "broadcast:"
END_ALL = "endall:"


async def end(ws, payload: str) -> None:
    try:
        await ws.send(payload)
        await ws.close(1000)  # the close handshake, as a server ending a session does
    except Exception:
        pass


async def handler(ws) -> None:
    CLIENTS.add(ws)
    try:
        async for frame in ws:
            if isinstance(frame, str) and frame.startswith(PREFIX):
                broadcast([c for c in CLIENTS if c is not ws], frame[len(PREFIX) :])
            elif isinstance(frame, str) and frame.startswith(END_ALL):
                payload = frame[len(END_ALL) :]
                await asyncio.gather(*(end(c, payload) for c in list(CLIENTS) if c is not ws))
                await ws.send("ended")
            else:
                await ws.send(frame)
    finally:
        CLIENTS.discard(ws)


async def main(port: int) -> None:
    # Same server-side defaults as the others: pings every 20 s (daphne's), no compression.
    async with serve(
        handler, "127.0.0.1", port, compression=None, backlog=1024, max_size=2**20, ping_interval=20, ping_timeout=30
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
