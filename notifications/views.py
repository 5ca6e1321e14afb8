"""HTTP endpoints of the notification API (docs/design.md "HTTP API"). Thin: parse, call a selector or a
service, render. Rules live in services.py and selectors.py; input formats in serializers.py."""

from __future__ import annotations

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
from notifications.pagination import encode_cursor
from notifications.serializers import (
    CommunicationSettingsSerializer,
    EmptyBodySerializer,
    InAppMessageSendSerializer,
    InboxBulkSerializer,
    InboxQuerySerializer,
    PreferencesInputSerializer,
    SnoozeSerializer,
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
            seen=query.get("seen"),
            archived=query.get("archived", False),
            snoozed=query.get("snoozed", False),
            categories=query.get("category", ()),
            created_after=query.get("after"),
            created_before=query.get("before"),
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


class InboxCountsView(CustomerView):
    @extend_schema(operation_id="inbox_counts", responses={200: openapi.CountsSerializer, **error_responses(401)})
    def get(self, request):
        return Response(selectors.inbox_counts(**self.customer()))


class InboxItemView(CustomerView):
    @extend_schema(
        operation_id="inbox_item_get", responses={200: openapi.InboxItemSerializer, **error_responses(401, 404)}
    )
    def get(self, request, message_id):
        return Response(inbox_item_data(selectors.inbox_item_get(**self.customer(), message_id=message_id)))

    @extend_schema(operation_id="inbox_item_delete", request=None, responses={204: None, **error_responses(401, 404)})
    def delete(self, request, message_id):
        """Gone from the customer's lists and counts; the message stays for the sender's statistics."""
        services.inbox_item_change(**self.customer(), message_id=message_id, change="delete")
        return Response(status=204)


class InboxItemActionView(CustomerView):
    """POST customer/inbox/{id}/<change>: seen, read, unread, archive, unarchive. Answers with the item."""

    change: str  # set per URL

    @extend_schema(request=None, responses={200: openapi.InboxItemSerializer, **error_responses(400, 401, 404)})
    def post(self, request, message_id):
        _validated(EmptyBodySerializer, request.data)
        item = services.inbox_item_change(**self.customer(), message_id=message_id, change=self.change)
        return Response(inbox_item_data(item))


class InboxSnoozeView(CustomerView):
    @extend_schema(
        operation_id="inbox_item_snooze",
        request=SnoozeSerializer,
        responses={200: openapi.InboxItemSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request, message_id):
        """Hidden until ``until``; then it wakes unread and unseen, and sockets hear it again."""
        body = _validated(SnoozeSerializer, request.data)
        return Response(
            inbox_item_data(services.inbox_item_snooze(**self.customer(), message_id=message_id, until=body["until"]))
        )


class InboxUnsnoozeView(CustomerView):
    @extend_schema(
        operation_id="inbox_item_unsnooze",
        request=None,
        responses={200: openapi.InboxItemSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request, message_id):
        """Wake a snoozed item now."""
        _validated(EmptyBodySerializer, request.data)
        return Response(inbox_item_data(services.inbox_item_unsnooze(**self.customer(), message_id=message_id)))


class InboxSeenView(InboxItemActionView):
    change = "seen"


class InboxReadView(InboxItemActionView):
    change = "read"


class InboxUnreadView(InboxItemActionView):
    change = "unread"


class InboxArchiveView(InboxItemActionView):
    change = "archive"


class InboxUnarchiveView(InboxItemActionView):
    change = "unarchive"


class InboxReadAllView(CustomerView):
    @extend_schema(
        operation_id="inbox_read_all",
        request=None,
        responses={200: openapi.ReadAllSerializer, **error_responses(400, 401)},
    )
    def post(self, request):
        _validated(EmptyBodySerializer, request.data)
        updated = services.inbox_items_change(**self.customer(), change="read")
        return Response({"updated": updated, "count": selectors.inbox_unread_count(**self.customer())})


class InboxSeenAllView(CustomerView):
    @extend_schema(
        operation_id="inbox_seen_all",
        request=None,
        responses={200: openapi.BulkResultSerializer, **error_responses(400, 401)},
    )
    def post(self, request):
        """The bell was opened: every item is seen (the badge goes to 0)."""
        _validated(EmptyBodySerializer, request.data)
        updated = services.inbox_items_change(**self.customer(), change="seen")
        return Response({"updated": updated, "counts": selectors.inbox_counts(**self.customer())})


class InboxBulkView(CustomerView):
    @extend_schema(
        operation_id="inbox_bulk",
        request=InboxBulkSerializer,
        responses={200: openapi.BulkResultSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request):
        """One action on up to 100 items by id, or on every item a filter matches; one transaction."""
        body = _validated(InboxBulkSerializer, request.data)
        where = body.get("filter")
        updated = services.inbox_items_change(
            **self.customer(),
            change=body["action"],
            message_ids=body.get("ids"),
            where=services.InboxFilter(**where) if where is not None else None,
        )
        return Response({"updated": updated, "counts": selectors.inbox_counts(**self.customer())})


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
        return {
            "preferences": preferences.own,
            "effective": preferences.effective(),
            "defaults": preferences.defaults,
            "critical": preferences.critical,
        }


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
