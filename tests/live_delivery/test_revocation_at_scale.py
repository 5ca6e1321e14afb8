"""Revoking a signing key with many sockets on two processes: every socket hears ``sessionEnded``,
then the namespace's DISCONNECT, then a normal close (1000) -- none is dropped without a close frame
(1006), none is left open, none is left behind in a process's session map.

Not a timing test (the bench's revocation row times 10,000 sockets): it checks that the batched end
of sessions (slices with yields between them, frames of a turn written together, every socket of a
process told before any is closed) reaches every socket whole. The processes run with a small
LIVE_DELIVERY_BATCH so that a few hundred sockets span many slices, and with the signing-key recheck
off, so only the live bus carries the revocation from the process that revokes to the other.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from live.fanout import end_signing_key_sessions
from tests.conftest import requires_redis
from tests.live_delivery.test_socketio import RawSocket, admin_signed_in, make_tenant, revoke_in_admin, run

pytestmark = [pytest.mark.live, pytest.mark.redis, requires_redis, pytest.mark.django_db(transaction=True)]

SOCKETS_PER_PROCESS = 150
SETTINGS = {"SOCKETIO_KEY_RECHECK_MS": "0", "LIVE_DELIVERY_BATCH": "16"}


async def everything_until_closed(raw: RawSocket) -> tuple[list[str], int | None]:
    """Every frame but pings until the server closes; the close code (1006: closed without a frame)."""
    frames = []
    while (frame := await raw.receive(timeout=60)) is not None:
        frames.append(frame)
    return frames, raw.ws.close_code


def ended_sessions_logged(server, kid: str, *, closed: bool = False) -> list[int]:
    """How many channels each "Delivered session.end to N channel(s) of kid.<kid>" line of ``server``'s
    log names (authplatform/layers.py logs one per message that found members in the process);
    ``closed``: how many of them it closed afterwards, once all N were told ("then finished M": their
    consumers took the message on delivery, authplatform/fastpaths/ws_direct.py)."""
    counts = []
    for line in server.log_path.read_text().splitlines():
        if "Delivered session.end to " in line and f"of kid.{kid} " in line:
            marker = "then finished " if closed else "Delivered session.end to "
            counts.append(int(line.split(marker, 1)[1].split(" ", 1)[0]) if marker in line else 0)
    return counts


def test_every_socket_of_a_revoked_key_hears_session_ended_and_closes_normally(daphne_server_factory):
    a = daphne_server_factory(**SETTINGS)
    b = daphne_server_factory(**SETTINGS)
    tenant = make_tenant()
    other = make_tenant()  # its socket must hear nothing and stay open
    probe = make_tenant()
    admin = admin_signed_in(a)
    kid = str(tenant.key.kid)

    async def scenario():
        sockets = []
        try:
            for server in (a, b):
                for i in range(SOCKETS_PER_PROCESS):
                    raw = await RawSocket.open(server)
                    sockets.append(raw)
                    connected = await raw.connect_customer(tenant.token(f"c{i % 40}"))  # several per customer
                    assert connected.startswith("40"), connected
            bystander = await RawSocket.open(b)
            sockets.append(bystander)
            assert (await bystander.connect_customer(other.token("c0"))).startswith("40")

            await asyncio.to_thread(revoke_in_admin, admin, tenant.key)
            outcomes = await asyncio.gather(*(everything_until_closed(raw) for raw in sockets[:-1]))

            for frames, code in outcomes:
                assert code == 1000, (code, frames)
                assert len(frames) == 2, frames
                event, data = json.loads(frames[0][2:])
                assert frames[0].startswith("42") and event == "sessionEnded", frames
                assert data["reason"] == "signing_key_revoked"
                assert frames[1] == "41", frames  # the namespace's DISCONNECT: the client must not reconnect
            with pytest.raises(asyncio.TimeoutError):
                await bystander.receive(timeout=0.5)

            # Ending the key's sessions again must find nobody left in either process's map (one left
            # there would get it, and be logged, again). A probe key's sessions, ended after it, mark
            # when both processes have read that publication (each reads them in order).
            probes = [await RawSocket.open(server) for server in (a, b)]
            sockets.extend(probes)
            for raw in probes:
                assert (await raw.connect_customer(probe.token("p"))).startswith("40")
            await asyncio.to_thread(end_signing_key_sessions, kid)
            await asyncio.to_thread(end_signing_key_sessions, probe.key.kid)
            for raw in probes:
                frames, code = await everything_until_closed(raw)
                assert code == 1000 and '"sessionEnded"' in frames[0]
        finally:
            for raw in sockets:
                await raw.close()

    run(scenario())
    admin.close()
    for server in (a, b):
        assert ended_sessions_logged(server, str(probe.key.kid)) == [1]
        assert ended_sessions_logged(server, kid) == [SOCKETS_PER_PROCESS]  # its own sockets, once
        # All of them told first, then closed: no client's close reply and the server's work on it
        # between two sockets' sessionEnded (the order a revocation of thousands needs).
        assert ended_sessions_logged(server, kid, closed=True) == [SOCKETS_PER_PROCESS]
