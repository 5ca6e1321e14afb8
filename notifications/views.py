"""HTTP endpoints of the notification API (docs/design.md "HTTP API"). Thin: parse, call a selector or a
service, render. Rules live in services.py and selectors.py; input formats in serializers.py."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers as drf_serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from authplatform.conf import platform_settings
from authplatform.metrics import send_count
from authplatform.openapi import error_responses
from credentials.models import Role
from notifications import openapi, selectors, services
from notifications.models import InboxItem
from notifications.pagination import encode_cursor
from notifications.serializers import (
    CommunicationSettingsSerializer,
    EmptyBodySerializer,
    InAppMessageSendSerializer,
    InboxQuerySerializer,
    PreferencesInputSerializer,
    communication_settings_data,
    communication_settings_errors,
    idempotency_key_from_headers,
    in_app_message_accepted_data,
    in_app_message_status_data,
    inbox_item_data,
)
from tokens.authentication import (
    AcceptedCredentialsMixin,
    ApiKeyAuthentication,
    ApiTokenAuthentication,
    ClientCredentialsAuthentication,
    CustomerJWTAuthentication,
)
from tokens.principals import CustomerPrincipal


def _validated(serializer_class, data, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- server-to-server ---------------------------------------------------------------------------
class ServerView(AcceptedCredentialsMixin, APIView):
    """Client key + secret, or an API key / API token whose user has a role in the workspace.
    Client credentials first: a request without any credential gets their 401 and challenge."""

    authentication_classes = [ClientCredentialsAuthentication, ApiKeyAuthentication, ApiTokenAuthentication]


class InAppMessageSendView(ServerView):
    @extend_schema(
        operation_id="in_app_message_send",
        request=InAppMessageSendSerializer,
        parameters=[openapi.IDEMPOTENCY_KEY_PARAMETER],
        responses={202: openapi.InAppMessageAcceptedSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request):
        idempotency_key = idempotency_key_from_headers(request.headers)
        content = _validated(InAppMessageSendSerializer, request.data)
        result = services.in_app_message_send(
            sender=selectors.sender_for_request(request),
            idempotency_key=idempotency_key,
            **content,
        )
        response = Response(in_app_message_accepted_data(result.message), status=202)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        else:
            send_count(items=result.message.stored_count)  # committed by now (authplatform/metrics.py)
        return response


class InAppMessageStatusView(ServerView):
    @extend_schema(
        operation_id="in_app_message_status",
        responses={200: openapi.InAppMessageStatusSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, message_id):
        sender = selectors.sender_for_request(request)
        message = selectors.in_app_message_get_for_sender(sender=sender, message_id=message_id, role=Role.READ)
        counts = selectors.in_app_message_counts(message=message)
        return Response(in_app_message_status_data(message, counts))


# --- customer-scoped ----------------------------------------------------------------------------
class CustomerView(AcceptedCredentialsMixin, APIView):
    """Customer JWT; ``request.user`` is a tokens.principals.CustomerPrincipal."""

    authentication_classes = [CustomerJWTAuthentication]

    def customer(self) -> dict:
        principal: CustomerPrincipal = self.request.user  # type: ignore[assignment]  # set by the class above
        return {"product_space": principal.product_space, "customer_id": principal.customer_id}


class InboxListView(CustomerView):
    @extend_schema(
        operation_id="inbox_list",
        parameters=[InboxQuerySerializer],
        responses={200: openapi.InboxPageSerializer, **error_responses(400, 401)},
    )
    def get(self, request):
        query = _validated(InboxQuerySerializer, request.query_params)
        page = selectors.inbox_items_list(
            **self.customer(),
            limit=query.get("limit", platform_settings.REALTIME_INBOX_PAGE_SIZE),
            before=query.get("cursor"),
            unread=query.get("unread"),
            archived=query.get("archived", False),
            category=query.get("category"),
        )
        return Response(
            {
                "results": [inbox_item_data(item) for item in page.items],
                "next_cursor": encode_cursor(page.next_position) if page.next_position else None,
            }
        )


class InboxUnreadCountView(CustomerView):
    @extend_schema(
        operation_id="inbox_unread_count", responses={200: openapi.UnreadCountSerializer, **error_responses(401)}
    )
    def get(self, request):
        return Response({"count": selectors.inbox_unread_count(**self.customer())})


class InboxItemView(CustomerView):
    @extend_schema(
        operation_id="inbox_item_get", responses={200: openapi.InboxItemSerializer, **error_responses(401, 404)}
    )
    def get(self, request, message_id):
        return Response(inbox_item_data(selectors.inbox_item_get(**self.customer(), message_id=message_id)))


class InboxItemActionView(CustomerView):
    """POST customer/inbox/{id}/<action>: read, unread, archive, unarchive. Answers with the item."""

    action_service: Callable[..., InboxItem]  # set per URL

    @extend_schema(request=None, responses={200: openapi.InboxItemSerializer, **error_responses(400, 401, 404)})
    def post(self, request, message_id):
        _validated(EmptyBodySerializer, request.data)
        item = type(self).action_service(**self.customer(), message_id=message_id)
        return Response(inbox_item_data(item))


class InboxReadView(InboxItemActionView):
    action_service = staticmethod(services.inbox_item_mark_read)


class InboxUnreadView(InboxItemActionView):
    action_service = staticmethod(services.inbox_item_mark_unread)


class InboxArchiveView(InboxItemActionView):
    action_service = staticmethod(services.inbox_item_archive)


class InboxUnarchiveView(InboxItemActionView):
    action_service = staticmethod(services.inbox_item_unarchive)


class InboxReadAllView(CustomerView):
    @extend_schema(
        operation_id="inbox_read_all",
        request=None,
        responses={200: openapi.ReadAllSerializer, **error_responses(400, 401)},
    )
    def post(self, request):
        _validated(EmptyBodySerializer, request.data)
        updated = services.inbox_mark_all_read(**self.customer())
        return Response({"updated": updated, "count": selectors.inbox_unread_count(**self.customer())})


@extend_schema_view(
    get=extend_schema(
        operation_id="preferences_get", responses={200: openapi.PreferencesSerializer, **error_responses(401)}
    ),
    put=extend_schema(
        operation_id="preferences_replace",
        request=PreferencesInputSerializer,
        responses={200: openapi.PreferencesSerializer, **error_responses(400, 401)},
    ),
    patch=extend_schema(
        operation_id="preferences_update",
        request=PreferencesInputSerializer,
        responses={200: openapi.PreferencesSerializer, **error_responses(400, 401)},
    ),
)
class PreferencesView(CustomerView):
    def get(self, request):
        return Response(self._data(selectors.customer_preferences_get(**self.customer())))

    def put(self, request):
        return self._update(request, replace=True)

    def patch(self, request):
        return self._update(request, replace=False)

    def _update(self, request, *, replace: bool):
        content = _validated(PreferencesInputSerializer, request.data, partial=not replace)
        preferences = services.customer_preferences_update(
            **self.customer(), changes=content.get("preferences", {}), replace=replace
        )
        return Response(self._data(preferences))

    @staticmethod
    def _data(preferences: selectors.CustomerPreferences) -> dict:
        return {"preferences": preferences.own, "effective": preferences.effective(), "defaults": preferences.defaults}


@extend_schema_view(
    get=extend_schema(
        operation_id="communication_settings_get",
        responses={200: CommunicationSettingsSerializer, **error_responses(401)},
    ),
    put=extend_schema(
        operation_id="communication_settings_replace",
        request=CommunicationSettingsSerializer,
        responses={200: CommunicationSettingsSerializer, **error_responses(400, 401)},
    ),
    patch=extend_schema(
        operation_id="communication_settings_update",
        request=CommunicationSettingsSerializer,
        responses={200: CommunicationSettingsSerializer, **error_responses(400, 401)},
    ),
)
class CommunicationSettingsView(CustomerView):
    def get(self, request):
        return Response(communication_settings_data(selectors.communication_settings_get(**self.customer())))

    def put(self, request):
        return self._update(request, replace=True)

    def patch(self, request):
        return self._update(request, replace=False)

    def _update(self, request, *, replace: bool):
        changes = _validated(CommunicationSettingsSerializer, request.data, partial=not replace)
        try:
            settings = services.communication_settings_update(**self.customer(), changes=changes, replace=replace)
        except DjangoValidationError as exc:
            raise drf_serializers.ValidationError(communication_settings_errors(exc)) from None
        return Response(communication_settings_data(settings))
