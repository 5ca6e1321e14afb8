"""One ASGI application for HTTP and WebSocket, served by daphne."""

import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authplatform.settings")
django_http = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from authplatform.idle_gc import RequestsInFlight, collector  # noqa: E402
from live.consumers import server_closes  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402
from notifications.announcer import AnnounceAfterResponse, announcer  # noqa: E402

if settings.DEBUG:
    # Development serves the admin's CSS and JS itself; production puts them behind a web server
    # or CDN after `manage.py collectstatic`.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_http = ASGIStaticFilesHandler(django_http)

from authplatform.bus import bus  # noqa: E402

if not settings.REDIS_URL:
    logging.getLogger("authplatform").warning(
        "REDIS_URL is not set: live messages reach only sockets on this process. "
        "Set REDIS_URL to run more than one server process."
    )

SOCKET_CLOSES_MAX_DELAY = 10.0  # seconds sockets mid-close may hold a due full collection back
http_in_flight = RequestsInFlight(AnnounceAfterResponse(django_http))
# Full garbage collections wait for a moment when no request is answered, no announcement is being
# made and no socket is being closed (authplatform/idle_gc.py; installed by authplatform/server.py).
collector.add_busy_check(http_in_flight.busy)
collector.add_busy_check(announcer.busy)
# Sockets mid-close (a revocation's) hold a collection back longer than requests do: each close ends by
# itself within the close-handshake timeout, and what the closed sockets leave is freed by one
# collection after them. Run among them, a full collection (0.6-0.7 s with a process's 5,000 sockets
# on the bench machine) stalled the closes still to come, and a second one was needed afterwards.
collector.add_busy_check(server_closes.busy, max_delay=SOCKET_CLOSES_MAX_DELAY)

router = ProtocolTypeRouter(
    {
        "http": http_in_flight,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)


async def application(scope, receive, send):
    # The live bus publishes and delivers on the server's event loop: the send API's views (in
    # worker threads) hand their publications to it and answer without waiting for delivery.
    bus.start()
    await router(scope, receive, send)
