"""``/api/v1/`` routes of the tokens app: the rokka-compatible API-key API and "who am I" endpoints."""

from django.urls import path, register_converter

from credentials.models import CODE_PATTERN
from tokens import views


class CodeConverter:
    """A workspace code in a path; anything else is a 404 before any view or query runs."""

    regex = CODE_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CodeConverter, "code")

urlpatterns = [
    path("user", views.UserView.as_view(), name="user"),
    path("user/apikeys", views.ApiKeyListView.as_view(), name="user-apikeys"),
    # Before user/apikeys/<key_id>, which would otherwise swallow them.
    path("user/apikeys/current", views.CurrentApiKeyView.as_view(), name="user-apikeys-current"),
    path("user/apikeys/token", views.ApiTokenView.as_view(), name="user-apikeys-token"),
    path("user/apikeys/<str:key_id>", views.ApiKeyDetailView.as_view(), name="user-apikey"),
    path("customer/me", views.CustomerMeView.as_view(), name="customer-me"),
    path("workspaces/<code:code>", views.WorkspaceView.as_view(), name="workspace"),
    path("workspaces/<code:code>/memberships", views.WorkspaceMembershipsView.as_view(), name="workspace-memberships"),
]
