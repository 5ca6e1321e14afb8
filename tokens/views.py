"""The API-key API that the ``rokka`` npm client speaks, plus small "who am I" endpoints.

Views only translate HTTP to service calls (credentials/services.py, tokens/services.py) and back.
Every answer with a body is ``Content-Type: application/json`` exactly (DRF's JSONRenderer has no
charset), which the rokka client requires; 204s have no body and no Content-Type.
"""

from __future__ import annotations

import uuid

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from authplatform.client_ip import client_ip
from authplatform.errors import APIError
from authplatform.openapi import error_responses
from credentials import services as credential_services
from credentials.audit import Actor
from credentials.models import ApiKey, Membership, Workspace
from tokens import services
from tokens.authentication import (
    CREDENTIALS_NOT_SUPPLIED,
    AcceptedCredentialsMixin,
    ApiKeyAuthentication,
    ApiTokenAuthentication,
    ClientCredentialsAuthentication,
    CustomerJWTAuthentication,
)
from tokens.permissions import WorkspaceRolePermission, caller_role
from tokens.principals import ClientPrincipal
from tokens.serializers import (
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    NewApiKeySerializer,
    TokenOptionsSerializer,
)

# Response shapes for the OpenAPI schema only (the views build plain dicts).
USER_SCHEMA = inline_serializer(
    "ApiUser",
    {
        "user_id": serializers.UUIDField(),
        "email": serializers.EmailField(),
        "api_keys": ApiKeySerializer(many=True),
    },
)
TOKEN_SCHEMA = inline_serializer(
    "ApiToken",
    {
        "token": serializers.CharField(),
        "payload": inline_serializer(
            "ApiTokenPayload",
            {
                "id": serializers.UUIDField(),
                "exp": serializers.IntegerField(),
                "expt": serializers.IntegerField(),
                "ips": serializers.ListField(child=serializers.CharField()),
                "rn": serializers.BooleanField(),
            },
        ),
    },
)
CUSTOMER_SCHEMA = inline_serializer(
    "Customer",
    {
        "customer_id": serializers.CharField(),
        "workspace_id": serializers.CharField(),
        "product_space_code": serializers.CharField(),
        "signing_key_id": serializers.UUIDField(),
        "expires_at": serializers.DateTimeField(),
    },
)
WORKSPACE_SCHEMA = inline_serializer(
    "WorkspaceForCaller",
    {
        "workspace_id": serializers.CharField(),
        "name": serializers.CharField(),
        "display_name": serializers.CharField(),
        "product_spaces": serializers.ListField(child=serializers.DictField()),
        "caller": serializers.DictField(),
    },
)
MEMBERSHIP_SCHEMA = inline_serializer(
    "WorkspaceMembership",
    {
        "user_id": serializers.UUIDField(),
        "email": serializers.EmailField(),
        "role": serializers.CharField(),
    },
    many=True,
)
# An API key is refused with 403 (the seed's rule), an API token with 401; 400 for a bad Api-Version or body.
API_USER_ERRORS = error_responses(400, 401, 403)


class ApiUserView(APIView):
    """Base of the rokka-compatible endpoints: an API user by API key or API token.

    Missing credentials are a 403 with the seed's message (an API key was expected). (An ``Api-Version``
    other than 1 is a 400 before anything else: tokens.authentication.ApiVersionHeaderVersioning.)
    """

    authentication_classes = [ApiKeyAuthentication, ApiTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise APIError(
                CREDENTIALS_NOT_SUPPLIED, reason="credentials_missing", status_code=403, invalid_authentication=True
            )
        super().permission_denied(request, message, code)

    def actor(self) -> Actor:
        return Actor.from_request(self.request, via="api")

    def active_keys(self):
        return ApiKey.objects.filter(user=self.request.user).active()


class UserView(ApiUserView):
    """``GET user``: ``{user_id, email, api_keys}``."""

    @extend_schema(responses={200: USER_SCHEMA, **API_USER_ERRORS})
    def get(self, request):
        return Response(
            {
                "user_id": str(request.user.pk),
                "email": request.user.email,
                "api_keys": ApiKeySerializer(self.active_keys(), many=True).data,
            }
        )


class ApiKeyListView(ApiUserView):
    """``GET user/apikeys``: a bare array of the user's active keys; ``POST``: add one."""

    @extend_schema(responses={200: ApiKeySerializer(many=True), **API_USER_ERRORS})
    def get(self, request):
        return Response(ApiKeySerializer(self.active_keys(), many=True).data)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: NewApiKeySerializer, **API_USER_ERRORS})
    def post(self, request):
        data = ApiKeyCreateSerializer(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        api_key, plaintext = credential_services.api_key_create(
            actor=self.actor(), user=request.user, comment=data.validated_data.get("comment") or ""
        )
        body = NewApiKeySerializer(api_key, context={"plaintext": plaintext}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(ApiUserView):
    """``DELETE user/apikeys/{id}``: 204; 404 when it is not one of the caller's active keys."""

    @extend_schema(
        responses={204: OpenApiResponse(description="Deleted."), **API_USER_ERRORS, **error_responses(404, 409)}
    )
    def delete(self, request, key_id: str):
        try:
            pk = uuid.UUID(key_id)
        except ValueError:
            raise APIError("No such API key.", reason="not_found", status_code=404) from None
        api_key = get_object_or_404(self.active_keys(), pk=pk)
        if api_key.pk == request.auth.api_key.pk:
            raise APIError(
                "This is the API key this request is authenticated with; delete it with another key.",
                reason="api_key_in_use",
                status_code=409,
            )
        credential_services.api_key_revoke(actor=self.actor(), api_key=api_key, reason="deleted through the API")
        return Response(status=status.HTTP_204_NO_CONTENT)


class CurrentApiKeyView(ApiUserView):
    """``GET user/apikeys/current``: the key this request authenticated with (directly or via a token)."""

    @extend_schema(responses={200: ApiKeySerializer, **API_USER_ERRORS})
    def get(self, request):
        return Response(ApiKeySerializer(request.auth.api_key).data)


class ApiTokenView(ApiUserView):
    """``GET|POST user/apikeys/token``: ``{token, payload}``; options in the query string or a JSON body."""

    @extend_schema(parameters=[TokenOptionsSerializer], responses={200: TOKEN_SCHEMA, **API_USER_ERRORS})
    def get(self, request):
        return self._mint(request)

    @extend_schema(request=TokenOptionsSerializer, responses={200: TOKEN_SCHEMA, **API_USER_ERRORS})
    def post(self, request):
        return self._mint(request)

    def _mint(self, request):
        # A plain dict, not the QueryDict: DRF reads an absent boolean in form data as False, and
        # "not given" must stay distinguishable from "false".
        raw = request.query_params.dict()
        if not isinstance(request.data, dict):
            # JSON null, a list, a string or a number: options in it would be dropped unread, and a
            # token minted without them (a longer lifetime than asked for, say).
            raise APIError(
                "The request body must be a JSON object of token options.", reason="invalid_request", status_code=400
            )
        raw.update(request.data)
        options = TokenOptionsSerializer(data=raw)
        options.is_valid(raise_exception=True)
        minted = services.api_token_mint(
            actor=self.actor(),
            api_key=request.auth.api_key,
            client_ip=client_ip(request),
            renewing=request.auth.token_payload,
            **options.validated_data,
        )
        return Response({"token": minted.token, "payload": minted.payload})


class CustomerMeView(AcceptedCredentialsMixin, APIView):
    """``GET customer/me``: who a customer JWT speaks for (a client's way to check its signing set-up)."""

    authentication_classes = [CustomerJWTAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: CUSTOMER_SCHEMA, **error_responses(401)})
    def get(self, request):
        customer = request.user
        return Response(
            {
                "customer_id": customer.customer_id,
                "workspace_id": customer.workspace.code,
                "product_space_code": customer.product_space.code,
                "signing_key_id": str(customer.signing_key.kid),
                "expires_at": customer.expires_at.isoformat().replace("+00:00", "Z"),
            }
        )


class ServerToServerView(AcceptedCredentialsMixin, APIView):
    """Base for workspace endpoints of customers' backends and API users; missing credentials → 401."""

    authentication_classes = [ClientCredentialsAuthentication, ApiKeyAuthentication, ApiTokenAuthentication]

    @cached_property
    def _workspace(self) -> Workspace | None:
        return Workspace.objects.filter(code=self.kwargs["code"]).first()  # one query per request

    def get_permission_workspace(self, request):
        return self._workspace

    def workspace(self) -> Workspace:
        if self._workspace is None:
            raise Http404
        return self._workspace


class WorkspaceView(ServerToServerView):
    """``GET workspaces/{code}`` (role ``read``): the workspace, its product spaces, and the caller's role."""

    permission_classes = [IsAuthenticated, WorkspaceRolePermission.of("read")]

    @extend_schema(responses={200: WORKSPACE_SCHEMA, **error_responses(401, 403, 404)})
    def get(self, request, code: str):
        workspace = self.workspace()
        caller = request.user
        if isinstance(caller, ClientPrincipal):
            who = {"type": "client", "client_key": caller.client.client_key}
        else:
            who = {"type": "api_user", "user_id": str(caller.pk), "api_key_id": str(request.auth.api_key.pk)}
        return Response(
            {
                "workspace_id": workspace.code,
                "name": workspace.name,
                "display_name": workspace.display_name,
                "product_spaces": [{"code": p.code, "name": p.name} for p in workspace.product_spaces.all()],
                "caller": {**who, "role": caller_role(request, workspace)},
            }
        )


class WorkspaceMembershipsView(ServerToServerView):
    """``GET workspaces/{code}/memberships`` (role ``admin``): which API users have which role."""

    permission_classes = [IsAuthenticated, WorkspaceRolePermission.of("admin")]

    @extend_schema(responses={200: MEMBERSHIP_SCHEMA, **error_responses(401, 403, 404)})
    def get(self, request, code: str):
        memberships = (
            Membership.objects.filter(workspace=self.workspace()).select_related("user").order_by("created_at")
        )
        return Response([{"user_id": str(m.user_id), "email": m.user.email, "role": m.role} for m in memberships])
