"""WebSocket routes (authplatform/asgi.py routes every WebSocket here)."""

from django.urls import re_path

from live.consumers import SocketIOConsumer


async def websocket_not_found(scope, receive, send) -> None:
    """Any other WebSocket path: refuse the upgrade (daphne answers 403) instead of raising."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


websocket_urlpatterns: list = [
    # socket.io-client adds the trailing slash to its `path` option; accept the path without it too.
    re_path(r"^api/v1/wss/socket\.io/?$", SocketIOConsumer.as_asgi()),
    re_path(r"", websocket_not_found),  # type: ignore[arg-type]  # an ASGI app: Channels routes take them
]
