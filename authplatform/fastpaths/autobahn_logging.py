"""autobahn's debug-log arguments, not formatted when debug logging is off (it always is here).

autobahn calls ``self.log.debug("{func} sent {data_len} bytes ...", func=hltype(self.sendData),
peer=hlval(self.peer), ...)`` in ``sendData`` (every frame sent), ``dataReceived`` (every read),
``_connectionMade``, ``processHandshake`` and ``_connectionLost``. txaio makes ``debug`` a no-op below
its level, but Python evaluates the arguments first: ``hltype`` inspects the method and colours its
name with ``click.style`` (installed here for Django's and daphne's commands), and in
``_connectionLost`` ``hlval(reason)`` renders the Twisted ``Failure`` with its brief traceback. A
profile of a revocation (5,000 sockets closed per process) put 13 % of a server's CPU in
``hltype`` under ``_connectionLost`` alone. Here the two helpers return their argument as it is, in
the modules that call them on those paths: a debug line, if someone turns autobahn's on, shows the
plain value (formatted only then) instead of a coloured one.

Likewise ``_connectionMade`` pretty-prints the protocol's ~40 settings for a debug line on every new
connection (4 % of a server's samples while 3,000 sockets connected): ``pformat`` there gives a string
that is formatted only when something reads it.

Relies on: ``autobahn.websocket.protocol`` and ``autobahn.twisted.websocket`` importing ``hltype`` and
``hlval`` by name from ``autobahn.util``, and the first ``pformat`` from ``pprint`` (module globals,
looked up at each call). Checked by
tests/foundation/test_autobahn_fastpaths.py.
"""

from __future__ import annotations

import pprint
from typing import Any

import autobahn.twisted.websocket
import autobahn.websocket.protocol

MODULES = (autobahn.websocket.protocol, autobahn.twisted.websocket)


def plain(value: Any, *args: Any, **kwargs: Any) -> Any:
    """``hltype`` / ``hlval`` without formatting: the value itself."""
    return value


class LazyPformat(str):
    """``pprint.pformat(value)``, computed when the string is printed or formatted, not before (it is
    an empty ``str`` until then, so it goes wherever a string goes)."""

    value: Any

    def __new__(cls, value: Any) -> LazyPformat:
        text = super().__new__(cls, "")
        text.value = value
        return text

    def __str__(self) -> str:
        return pprint.pformat(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def install() -> None:
    """Replace the helpers in autobahn's WebSocket modules (idempotent)."""
    for module in MODULES:
        module.hltype = plain  # type: ignore[attr-defined]
        module.hlval = plain  # type: ignore[attr-defined]
    autobahn.websocket.protocol.pformat = LazyPformat  # type: ignore[assignment]
