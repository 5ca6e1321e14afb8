"""Users (admins and API users) and their workspace memberships."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.urls import path

from credentials import services
from credentials.admin.api_keys import issued_api_key
from credentials.admin.pages import ReadOnlyInline, ServicePagesAdmin, admin_actor, object_tool_links, object_url
from credentials.forms import ApiUserCreateForm
from credentials.models import ApiKey, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("workspace", "role", "created_at")
    readonly_fields = ("created_at",)


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fk_name = "user"
    fields = readonly_fields = ("hint", "format", "status", "comment", "created_at", "last_used_at")
    verbose_name_plural = "API keys"

    @admin.display(description="status")
    def status(self, obj) -> str:
        return obj.state().label


@admin.register(User)
class UserAdmin(ServicePagesAdmin, DjangoUserAdmin):
    """Only superusers grant admin access. Staff who may change users manage API users and their own
    profile: the privilege fields are read-only to them (left out of the form, so a POST naming them
    changes nothing), and accounts with admin access other than their own (whose password they could
    otherwise set, then sign in as) are view-only to them."""

    inlines = (MembershipInline, ApiKeyInline)
    privilege_fields = ("is_superuser", "is_staff", "groups", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return readonly
        return readonly + tuple(name for name in self.privilege_fields if name not in readonly)

    @staticmethod
    def may_manage(request, obj) -> bool:
        return (
            obj is None
            or request.user.is_superuser
            or obj.pk == request.user.pk
            or not (obj.is_staff or obj.is_superuser)
        )

    def has_change_permission(self, request, obj=None):
        # Also guards the password page, which asks with the user whose password it sets.
        return self.may_manage(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.may_manage(request, obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The active flag decides whether every key and token of the user works: it changes only
        # through the audited service, whichever screen changed it.
        wanted = obj.is_active
        if change and "is_active" in form.changed_data:
            obj.is_active = form.initial.get("is_active", not wanted)
        super().save_model(request, obj, form, change)
        if change and obj.is_active != wanted:
            obj.is_active = services.user_active_set(actor=admin_actor(request), user=obj, active=wanted).is_active

    def delete_model(self, request, obj):
        services.user_delete(actor=admin_actor(request), user=obj)

    def delete_queryset(self, request, queryset):
        actor = admin_actor(request)
        for user in queryset:
            services.user_delete(actor=actor, user=user)

    def get_urls(self):
        return [
            path(
                "add-api-user/",
                self.admin_site.admin_view(self.add_api_user_view),
                name="credentials_user_add_api_user",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "lead_object_tools": self.extra_object_tools(request, [(User, "add_api_user", "Create API user", None)]),
            "add_label": "Add admin user",
            "list_intro": "API users call the API with API keys: make one with Create API user (it gets its first "
            "key, shown once). Add admin user makes a person who signs in to this admin with a "
            "password; give them staff status on the next page.",
        }
        return super().changelist_view(request, extra_context)

    def add_api_user_view(self, request):
        """An API user (no password; signs in with keys) and their first API key, shown once —
        what `manage.py createapiuser` makes."""

        def create(actor, data):
            user = services.api_user_create(
                actor=actor, email=data["email"], workspace=data["workspace"], role=data["role"] or None
            )
            # A brand-new user has no keys, so the first key cannot hit the limit.
            return user, services.api_key_create(actor=actor, user=user, comment="first key")

        return self.service_form_view(
            request,
            form_class=ApiUserCreateForm,
            call=create,
            done=lambda result, data: self.show_once(
                request, title="New API user", issued=[issued_api_key(*result[1])], next_url=object_url(result[0])
            ),
            title="Create API user",
            submit_label="Create API user",
            intro="A user who calls the API with API keys, and their first key, shown once.",
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Memberships grant roles to keys and tokens: every change goes through the audited services.
        actor = admin_actor(request)
        edited = formset.save(commit=False)  # new and changed rows, unsaved; deletions not yet done
        for membership in formset.deleted_objects:
            services.membership_remove(actor=actor, membership=membership)
        for membership in edited:
            if membership.pk is not None:
                before = Membership.objects.select_related("workspace").get(pk=membership.pk)
                if before.workspace_id != membership.workspace_id:
                    services.membership_remove(actor=actor, membership=before)
            services.membership_set(
                actor=actor, user=form.instance, workspace=membership.workspace, role=membership.role
            )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        query = {"user": unquote(object_id)}
        extra_context = {
            **(extra_context or {}),
            "extra_object_tools": object_tool_links(
                self.admin_site,
                request,
                [
                    (ApiKey, "add", "Create API key", query),
                    (ApiKey, "import", "Import legacy API key", query),
                ],
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", "workspace")
    list_select_related = ("user", "workspace")
    search_fields = ("user__username", "user__email", "workspace__name", "workspace__code")

    def get_readonly_fields(self, request, obj=None):
        # Moving a membership to another user or workspace is removing it and adding another.
        return ("user", "workspace", "created_at") if obj else ("created_at",)

    def save_model(self, request, obj, form, change):
        membership = services.membership_set(
            actor=admin_actor(request), user=obj.user, workspace=obj.workspace, role=obj.role
        )
        obj.pk, obj.created_at = membership.pk, membership.created_at
        obj._state.adding = False

    def delete_model(self, request, obj):
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset):
        actor = admin_actor(request)
        for membership in queryset:
            try:
                services.membership_remove(actor=actor, membership=membership)
            except ValidationError as error:  # e.g. removed by another admin a moment ago (audited)
                self.message_user(request, f"{membership}: {' '.join(error.messages)}", messages.ERROR)
