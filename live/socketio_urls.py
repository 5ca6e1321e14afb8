"""HTTP routes under ``api/v1/wss/`` (WebSocket routes are in routing.py)."""

from django.urls import re_path

from live.socketio_http import websocket_only

urlpatterns = [
    re_path(r"^socket\.io/?$", websocket_only, name="socketio-http"),
]
