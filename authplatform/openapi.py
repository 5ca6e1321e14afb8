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

# Every ``reason`` the HTTP API can answer with, and what it means: the enum of the Error component.
# tests/foundation/test_openapi.py finds each reason the code raises and requires it here.
ERROR_REASONS = {
    # the request itself
    "malformed_request": "The HTTP request is malformed; answered by the server before the application.",
    "uri_too_long": "The request line is over 16 KiB.",
    "headers_too_large": "The request's headers are over 16 KiB.",
    "bad_request": "The request cannot be served as sent.",
    "malformed_body": "The body is not the JSON it should be.",
    "invalid_request": "A field, parameter or header is invalid; `details` names each.",
    "invalid_value": "A value the database cannot store reached it unchecked.",
    "unsupported_api_version": "`Api-Version` is not 1.",
    "method_not_allowed": "The path does not take this method.",
    "not_acceptable": "The requested response format is not JSON.",
    "unsupported_media_type": "The body's content type is not JSON.",
    "payload_too_large": "The body is too large.",
    # which credential
    "not_authenticated": "No credential was sent; the message names the kinds this endpoint accepts.",
    "credentials_missing": "No API key or API token was sent (API-key endpoints).",
    "credentials_not_accepted": "Only credentials of kinds this endpoint does not accept were sent.",
    "invalid_credentials": "The credential is not valid.",
    "too_many_authentication_failures": "This address sent too many refused credentials; see `Retry-After`.",
    "throttled": "Too many requests; see `Retry-After`.",
    # client key + secret
    "client_credentials_incomplete": "Only one of x-client-key and x-client-secret was sent.",
    "invalid_client_credentials": "Unknown client key, wrong or expired secret, or a deactivated client.",
    # API keys and API tokens
    "api_key_malformed": "The Api-Key header is not an API key.",
    "invalid_api_key": "Unknown, deleted or rotated API key.",
    "api_key_revoked": "The API token's key was revoked or rotated.",
    "api_key_in_use": "The key this request authenticated with cannot delete itself.",
    "invalid_expires_in": "expires_in is out of range.",
    "invalid_ips": "An IP rule is neither an address, a CIDR nor request_ip.",
    "too_many_ip_values": "Too many IP rules.",
    "too_many_ip_addresses": "The IP rules allow too many addresses.",
    "conflicting_options": "Token options that exclude each other, e.g. ips with no_ip_protection.",
    "request_ip_unknown": "request_ip was asked for, but the caller's address is not known.",
    "ip_not_allowed": "The token's IP rules do not allow the caller's address.",
    "token_not_renewable": "The token was minted without renewal.",
    "renewal_exceeds_expt": "A renewal asked for a longer lifetime than the token's own.",
    "renewal_widens_ips": "A renewal asked to allow addresses the token does not.",
    # bearer tokens (API tokens and customer JWTs)
    "malformed_authorization_header": "Authorization is not 'Bearer <token>'.",
    "token_missing": "Authorization: Bearer with no token.",
    "token_malformed": "The token is not a JWT.",
    "token_too_large": "The token is larger than any token this API accepts.",
    "token_invalid": "The token is not a valid token of this kind.",
    "token_expired": "The token has expired.",
    "token_not_yet_valid": "The token's nbf or iat is in the future.",
    "invalid_signature": "The token's signature does not verify.",
    "algorithm_not_allowed": "The token's alg is not its key's algorithm.",
    "wrong_token_type": "A customer JWT whose type claim is not 'customer'.",
    "signing_key_unknown": "The kid names no usable signing key (unknown or revoked).",
    "signing_key_expired": "The signing key has passed its end date after a rotation: sign with its successor.",
    "invalid_claims": "A claim is missing or malformed.",
    "wrong_workspace": "workspace_id is not the signing key's workspace.",
    "unknown_product_space": "product_space_code is not a product space of that workspace.",
    # what the credential may do, and what exists
    "permission_denied": "The credential may not do this.",
    "insufficient_role": "The API user's role in the workspace is too low.",
    "not_found": "No such object for this caller.",
    "product_space_not_found": "No such product space in the caller's workspace.",
    "message_not_found": "No such message for this caller.",
    "invalid_snooze": "A snooze time in the past, or more than 90 days ahead.",
    "critical_category": "A preference would mute a category the customer cannot mute; `details` names it.",
    "conflict": "The request conflicts with the stored state.",
    "idempotency_key_reused": "This Idempotency-Key came with another body within 24 hours.",
    # the server
    "unavailable": "The database or Redis does not answer; see `Retry-After`.",
    "not_ready": "/readyz: the database, Redis or the live bus does not answer.",
    "server_error": "A defect of ours; it is logged.",
}


class ErrorSerializer(serializers.Serializer):
    """The one error body of the API."""

    code = serializers.IntegerField(help_text="The HTTP status code again.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    reason = serializers.ChoiceField(choices=list(ERROR_REASONS.items()), help_text="What went wrong, for a program:")
    invalid_authentication = serializers.BooleanField(
        required=False, help_text="Present, and true, only when credentials were missing or invalid."
    )
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
    return {
        status: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[status])
        for status in sorted({*statuses, 400, 429, 503})
    }


API_VERSION_PARAMETER = OpenApiParameter(
    "Api-Version",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    enum=["1"],
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
