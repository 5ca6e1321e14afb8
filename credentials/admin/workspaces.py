"""Workspaces and their product spaces."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote

from credentials import services
from credentials.admin.pages import ChangedThroughServicesAdmin, ReadOnlyInline, ServicePagesAdmin, object_url
from credentials.forms import ProductSpaceCreateForm, WorkspaceCreateForm
from credentials.models import Client, CustomerSigningKey, ProductSpace, Workspace


class ProductSpaceInline(ReadOnlyInline):
    model = ProductSpace
    fields = readonly_fields = ("name", "code", "created_at")


@admin.register(Workspace)
class WorkspaceAdmin(ServicePagesAdmin):
    list_display = ("name", "display_name", "code", "product_space_codes", "created_at")
    search_fields = ("name", "display_name", "code", "product_spaces__code")
    fields = ("name", "display_name", "code", "created_at")
    readonly_fields = ("name", "code", "created_at")  # only the display name changes after creation
    inlines = (ProductSpaceInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("product_spaces")

    def audit_log_query(self, obj) -> dict:
        return {"workspace": obj.code}  # everything in the workspace, not only the workspace's own events

    def has_delete_permission(self, request, obj=None):
        return False  # it would silently take every credential of the workspace with it

    @admin.display(description="product spaces")
    def product_space_codes(self, obj) -> str:
        return ", ".join(product_space.code for product_space in obj.product_spaces.all())

    def add_view(self, request, form_url="", extra_context=None):
        def done(workspace, data):
            if IS_POPUP_VAR in request.POST:
                return self.response_add(request, workspace)
            return self.message_and_redirect(request, f"Created workspace {workspace}.", object_url(workspace))

        return self.service_form_view(
            request,
            form_class=WorkspaceCreateForm,
            done=done,
            call=lambda actor, data: services.workspace_create(
                actor=actor,
                name=data["name"],
                display_name=data["display_name"],
                product_space_name=data["product_space_name"] or None,
            ),
            title="Create workspace",
            submit_label="Create workspace",
            intro="The workspace code is generated.",
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        query = {"workspace": unquote(object_id)}
        extra_context = {
            **(extra_context or {}),
            "extra_object_tools": self.extra_object_tools(
                request,
                [
                    (ProductSpace, "add", "Add product space", query),
                    (Client, "add", "Create client", query),
                    (CustomerSigningKey, "add", "Generate signing key", query),
                    (CustomerSigningKey, "upload", "Upload public key", query),
                ],
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ProductSpace)
class ProductSpaceAdmin(ChangedThroughServicesAdmin):
    list_display = ("name", "code", "workspace", "created_at")
    list_filter = ("workspace",)
    list_select_related = ("workspace",)
    search_fields = ("name", "code", "workspace__name", "workspace__code")
    fields = readonly_fields = ("name", "code", "workspace", "created_at")

    def add_view(self, request, form_url="", extra_context=None):
        def done(product_space, data):
            if IS_POPUP_VAR in request.POST:
                return self.response_add(request, product_space)
            return self.message_and_redirect(
                request, f"Created product space {product_space}.", object_url(product_space.workspace)
            )

        return self.service_form_view(
            request,
            form_class=ProductSpaceCreateForm,
            preselect={"workspace": Workspace},
            done=done,
            call=lambda actor, data: services.product_space_create(
                actor=actor, workspace=data["workspace"], name=data["name"]
            ),
            title="Add product space",
            submit_label="Add product space",
            intro="The product space code is generated.",
        )
