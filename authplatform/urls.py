from django.contrib import admin
from django.urls import include, path

from authplatform import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tokens.urls")),
    path("api/v1/", include("notifications.urls")),
    path("api/v1/wss/", include("live.socketio_urls")),  # Socket.IO over HTTP: 400, WebSocket only
]

handler500 = "authplatform.errors.handler500"
