"""The pages that show the OpenAPI description (authplatform/openapi.py): Swagger UI and Redoc, their
assets from drf-spectacular-sidecar's static files, and a policy that lets them load nothing from
anywhere but this server. Beside them, the live protocol's AsyncAPI document (docs/asyncapi.yaml).

(Not in openapi.py: drf-spectacular's views read its settings, which name openapi.py's classes.)
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Everything from this server: Redoc's bundle still shows a logo from cdn.redoc.ly, which this policy
# stops before any request leaves the browser. Inline scripts start the UIs; Redoc runs a blob worker.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:"
)


class SelfContainedDocsMixin:
    @extend_schema(exclude=True)  # a page about the API, not part of it
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerView(SelfContainedDocsMixin, SpectacularSwaggerView):
    pass


class RedocView(SelfContainedDocsMixin, SpectacularRedocView):
    template_name = "api_docs/redoc.html"  # drf-spectacular's, without its Google Fonts links


ASYNCAPI_DOCUMENT = settings.BASE_DIR / "docs" / "asyncapi.yaml"


@require_GET
def asyncapi_document(request):
    """The Socket.IO protocol of live delivery as AsyncAPI 3 (read per request: it is small and rarely fetched)."""
    return HttpResponse(ASYNCAPI_DOCUMENT.read_bytes(), content_type="application/yaml")
