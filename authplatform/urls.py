from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from authplatform import health
from authplatform.api_docs import RedocView, SwaggerView, asyncapi_document
from authplatform.metrics import metrics_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus; METRICS_ALLOWED / METRICS_TOKEN only
    path("admin/", admin.site.urls),
    path("api/v1/", include("tokens.urls")),
    path("api/v1/", include("notifications.urls")),
    path("api/v1/wss/", include("live.socketio_urls")),  # Socket.IO over HTTP: 400, WebSocket only
    # The API's description (authplatform/openapi.py, pages in api_docs.py): OpenAPI as YAML (JSON with
    # ?format=json), and the same read by Swagger UI and Redoc.
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/redoc/", RedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/asyncapi.yaml", asyncapi_document, name="asyncapi"),  # the Socket.IO protocol (docs/asyncapi.yaml)
]

handler500 = "authplatform.errors.handler500"
