"""``/api/v1/`` routes of the tokens app: the rokka-compatible API-key API and "who am I" endpoints."""

from django.urls import path

from tokens import views

urlpatterns = [
    path("user", views.UserView.as_view(), name="user"),
    path("user/apikeys", views.ApiKeyListView.as_view(), name="user-apikeys"),
    # Before user/apikeys/<key_id>, which would otherwise swallow them.
    path("user/apikeys/current", views.CurrentApiKeyView.as_view(), name="user-apikeys-current"),
    path("user/apikeys/token", views.ApiTokenView.as_view(), name="user-apikeys-token"),
    path("user/apikeys/<str:key_id>", views.ApiKeyDetailView.as_view(), name="user-apikey"),
    path("customer/me", views.CustomerMeView.as_view(), name="customer-me"),
    path("workspaces/<str:code>", views.WorkspaceView.as_view(), name="workspace"),
    path("workspaces/<str:code>/memberships", views.WorkspaceMembershipsView.as_view(), name="workspace-memberships"),
]
