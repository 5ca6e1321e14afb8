"""Plain HTTP requests to the Socket.IO path: the Engine.IO long-polling transport is not served.

socket.io-client's default is to start with long-polling (GET/POST ``?EIO=4&transport=polling``)
and upgrade; this server speaks WebSocket only, so such a client gets a 400 in the platform's error
format that says what to change, instead of a 404 or an HTML page.
"""

from django.views.decorators.csrf import csrf_exempt

from authplatform.errors import error_response

WEBSOCKET_ONLY_MESSAGE = (
    "This Socket.IO server uses the WebSocket transport only; long-polling is not available. "
    "Connect with transports: ['websocket'] (the WebSocket URL is "
    "ws(s)://HOST/api/v1/wss/socket.io/?EIO=4&transport=websocket)."
)


@csrf_exempt  # polling POSTs carry no CSRF token; nothing is changed here anyway
def websocket_only(request):
    return error_response(400, WEBSOCKET_ONLY_MESSAGE, "transport_not_supported")
