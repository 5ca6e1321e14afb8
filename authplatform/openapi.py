"""The OpenAPI description of the HTTP API (drf-spectacular): what every operation has in common.

Each view states its own request, responses and errors with ``extend_schema``; this module holds the
shared parts, so that they are written once: the error body component (authplatform/errors.py
produces it), the error responses by status, the ``Api-Version`` header every operation reads, and
the generator that knows our header versioning. Served at ``/api/v1/schema/`` with Swagger UI and
Redoc beside it (authplatform/urls.py), their assets from drf-spectacular-sidecar: no CDN.
"""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from authplatform.errors import STATUS_REASONS


class ErrorSerializer(serializers.Serializer):
    """The one error body of the API (README "Errors")."""

    code = serializers.IntegerField(help_text="The HTTP status code again.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    reason = serializers.CharField(help_text="What went wrong, for a program: a stable code (README \"Errors\" "
                                             "and each endpoint's section list them).")
    invalid_authentication = serializers.BooleanField(
        required=False, help_text="Present, and true, only when credentials were missing or invalid.")
    details = serializers.JSONField(required=False, help_text="Per-field messages of a refused body or query.")

    class Meta:
        ref_name = "Error"


# What each status means on this API, for the descriptions of the error responses.
ERROR_MEANINGS = {
    400: "The request is malformed or a value is invalid (`details` names the fields).",
    401: "No credential, or a credential this operation refuses (`invalid_authentication`; `WWW-Authenticate`).",
    403: "The credential is valid but not allowed to do this (a role too low), or an API key was refused.",
    404: "No such object for this caller: another workspace's objects are not found either.",
    409: "The request conflicts with the stored state.",
    429: "This address sent too many refused credentials (`Retry-After`).",
    503: "The database or Redis does not answer (`Retry-After`).",
}
assert set(ERROR_MEANINGS) <= set(STATUS_REASONS)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Error responses for ``extend_schema(responses=...)``. Any operation can answer 400 (an
    ``Api-Version`` other than 1, a malformed request), 429 and 503."""
    return {status: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[status])
            for status in sorted({*statuses, 400, 429, 503})}


API_VERSION_PARAMETER = OpenApiParameter(
    "Api-Version", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False, enum=["1"],
    description="The API version; absent means 1. Any other value is a 400 `unsupported_api_version`.",
)


class PlatformAutoSchema(AutoSchema):
    """drf-spectacular's schema of a view, plus the ``Api-Version`` header that every view reads."""

    def get_override_parameters(self):
        return [API_VERSION_PARAMETER, *super().get_override_parameters()]


class PlatformSchemaGenerator(SchemaGenerator):
    """The API has one version, chosen by a header (tokens.authentication.ApiVersionHeaderVersioning):
    the schema describes it as unversioned paths plus the ``Api-Version`` header parameter above."""

    def create_view(self, callback, method, request=None):
        view = super().create_view(callback, method, request)
        view.versioning_class = None
        return view

