"""The notification API under /api/v1/ (docs/design.md "HTTP API"). Message ids are UUIDs; anything else
in their place is a 404 before any view runs."""

from django.urls import path

from notifications import views

urlpatterns = [
    # server-to-server
    path("in-app-messages", views.InAppMessageSendView.as_view(), name="in-app-message-send"),
    path("in-app-messages/<uuid:message_id>", views.InAppMessageStatusView.as_view(), name="in-app-message-status"),
    # customer-scoped
    path("customer/inbox", views.InboxListView.as_view(), name="inbox"),
    path("customer/inbox/unread-count", views.InboxUnreadCountView.as_view(), name="inbox-unread-count"),
    path("customer/inbox/counts", views.InboxCountsView.as_view(), name="inbox-counts"),
    path("customer/inbox/read-all", views.InboxReadAllView.as_view(), name="inbox-read-all"),
    path("customer/inbox/seen-all", views.InboxSeenAllView.as_view(), name="inbox-seen-all"),
    path("customer/inbox/bulk", views.InboxBulkView.as_view(), name="inbox-bulk"),
    path("customer/inbox/<uuid:message_id>", views.InboxItemView.as_view(), name="inbox-item"),
    path("customer/inbox/<uuid:message_id>/seen", views.InboxSeenView.as_view(), name="inbox-item-seen"),
    path("customer/inbox/<uuid:message_id>/snooze", views.InboxSnoozeView.as_view(), name="inbox-item-snooze"),
    path("customer/inbox/<uuid:message_id>/unsnooze", views.InboxUnsnoozeView.as_view(), name="inbox-item-unsnooze"),
    path("customer/inbox/<uuid:message_id>/read", views.InboxReadView.as_view(), name="inbox-item-read"),
    path("customer/inbox/<uuid:message_id>/unread", views.InboxUnreadView.as_view(), name="inbox-item-unread"),
    path("customer/inbox/<uuid:message_id>/archive", views.InboxArchiveView.as_view(), name="inbox-item-archive"),
    path("customer/inbox/<uuid:message_id>/unarchive", views.InboxUnarchiveView.as_view(), name="inbox-item-unarchive"),
    path("customer/preferences", views.PreferencesView.as_view(), name="customer-preferences"),
    path(
        "customer/communication-settings",
        views.CommunicationSettingsView.as_view(),
        name="customer-communication-settings",
    ),
]
