"""One ASGI application for HTTP and WebSocket, served by daphne."""

import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authplatform.settings")
django_http = get_asgi_application()  # sets Django up before the consumers are imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from live.routing import websocket_urlpatterns  # noqa: E402

if settings.DEBUG:
    # Development serves the admin's CSS and JS itself; production puts them behind a web server
    # or CDN after `manage.py collectstatic`.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_http = ASGIStaticFilesHandler(django_http)

if not settings.REDIS_URL:
    logging.getLogger("authplatform").warning(
        "REDIS_URL is not set: the in-memory channel layer delivers live messages only to sockets "
        "on this process. Set REDIS_URL to run more than one server process."
    )

application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
