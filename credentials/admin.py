"""Django admin for the credential store: where admins issue, rotate and revoke credentials.

Every change goes through credentials.services (which decide the rules and write the audit log); this
module only collects input, calls a service and shows the outcome. Three kinds of pages of our own:

- a form page for creations that need a service (workspace, client, API key, signing key, ...);
- a confirmation page for actions, asking for a reason (and, to rotate a client secret, a grace period);
- the show-once page: a new client secret, API key or private key appears only in the response to the
  POST that made it. It is never put in a message, the session, a cookie or a URL, so no later visit
  can show it again.

Credential object pages are read-only and nothing here deletes a credential: revoking keeps the record
of when and why it stopped working.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode

from credentials import selectors, services
from credentials.admin_login import AdminLoginForm
from credentials.audit import Actor
from credentials.forms import (
    ApiKeyCreateForm,
    ApiKeyImportForm,
    ApiUserCreateForm,
    ClientCreateForm,
    ProductSpaceCreateForm,
    ReasonForm,
    RotateClientSecretForm,
    SigningKeyGenerateForm,
    SigningKeyUploadForm,
    WorkspaceCreateForm,
    add_service_error,
)
from credentials.models import (
    ApiKey,
    AuditEvent,
    Client,
    ClientSecret,
    CredentialState,
    CustomerSigningKey,
    Membership,
    PlatformTokenKey,
    ProductSpace,
    User,
    Workspace,
)

# Failed sign-ins are budgeted per address and per username, and audited (credentials/admin_login.py).
admin.site.login_form = AdminLoginForm

CONFIRM_FIELD = "confirm"  # marks the second POST of an action: the confirmation form was submitted


def admin_actor(request) -> Actor:
    return Actor.from_request(request, via="admin")


def admin_url(model: type[Model], view: str, *args, query: dict | None = None) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    return f"{url}?{urlencode(query)}" if query else url


def object_url(obj: Model) -> str:
    return admin_url(type(obj), "change", quote(obj.pk))


def object_from_query(request, name: str, model: type[Model]):
    """The object whose pk is in ?name=..., for preselecting it on a form; None if absent or bad."""
    value = request.GET.get(name)
    if not value:
        return None
    try:
        return model.objects.filter(pk=value).first()
    except (ValueError, ValidationError):
        return None


def object_tool_links(admin_site, request, tools) -> list[dict]:
    """Links for the object-tools bar: (model, view, label, query) each, shown only to those allowed
    to add that model (every linked page creates something)."""
    links = []
    for model, view, label, query in tools:
        model_admin = admin_site._registry.get(model)
        if model_admin is not None and model_admin.has_add_permission(request):
            links.append({"url": admin_url(model, view, query=query), "label": label})
    return links


# --- what the show-once page shows --------------------------------------------------------------
@dataclass
class ShownValue:
    label: str
    value: str
    secret: bool = False  # shown now or never; identifiers (client key, kid) can be looked up later


@dataclass
class Issued:
    """One object just made, with the values to show once."""

    heading: str
    url: str
    values: list[ShownValue] = field(default_factory=list)


def issued_client_secret(client: Client, plaintext: str) -> Issued:
    return Issued(heading=f"Client {client.name} in {client.workspace}", url=object_url(client), values=[
        ShownValue("x-client-key", client.client_key),
        ShownValue("x-client-secret", plaintext, secret=True),
    ])


def issued_api_key(api_key: ApiKey, plaintext: str) -> Issued:
    return Issued(heading=f"API key {api_key.hint}… of {api_key.user}", url=object_url(api_key), values=[
        ShownValue("Api-Key", plaintext, secret=True),
    ])


# --- list filters -------------------------------------------------------------------------------
class StatusFilter(admin.SimpleListFilter):
    """Active / expired / revoked, matching Credential.state()."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return CredentialState.choices

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == CredentialState.ACTIVE:
            return queryset.active(now)
        if self.value() == CredentialState.EXPIRED:
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == CredentialState.REVOKED:
            return queryset.filter(revoked_at__isnull=False)
        return queryset


# --- shared machinery ---------------------------------------------------------------------------
class ServicePagesAdmin(admin.ModelAdmin):
    """A ModelAdmin with form, confirmation and show-once pages, and extra object-tool links."""

    def page_context(self, request, *, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "has_view_permission": self.has_view_permission(request),
            **extra,
        }

    def form_page(self, request, *, form, title: str, submit_label: str, intro: str = "",
                  template: str = "admin/credentials/form_page.html", **extra) -> TemplateResponse:
        adminform = helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}, model_admin=self)
        context = self.page_context(
            request, title=title, form=form, adminform=adminform, media=self.media + adminform.media,
            submit_label=submit_label, intro=intro, cancel_url=admin_url(self.model, "changelist"),
            is_popup=IS_POPUP_VAR in request.GET or IS_POPUP_VAR in request.POST,
            is_popup_var=IS_POPUP_VAR, to_field=request.GET.get(TO_FIELD_VAR) or request.POST.get(TO_FIELD_VAR),
            to_field_var=TO_FIELD_VAR, **extra,
        )
        return TemplateResponse(request, template, context)

    def confirmation_page(self, request, queryset, *, form, action: str, title: str, submit_label: str,
                          intro: str = "") -> TemplateResponse:
        return self.form_page(
            request, form=form, title=title, submit_label=submit_label, intro=intro,
            template="admin/credentials/action_confirmation.html", objects=list(queryset), action=action,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME, confirm_field=CONFIRM_FIELD,
        )

    def show_once(self, request, *, title: str, issued: list[Issued], refused=(), next_url: str = "",
                  notes: list[str] = ()) -> TemplateResponse:
        response = TemplateResponse(request, "admin/credentials/show_once.html", self.page_context(
            request, title=title, issued=issued, notes=notes,
            refused=[(obj, message) for obj, error in refused for message in error.messages],
            next_url=next_url or admin_url(self.model, "changelist"),
        ))
        add_never_cache_headers(response)  # the page holds a secret: no browser or proxy may keep it
        return response

    @staticmethod
    def confirmation_form(request, form_class):
        """Bound on the confirming POST; blank when the action was just chosen on the change list."""
        if request.POST.get(CONFIRM_FIELD) == "yes":
            return form_class(request.POST)
        return form_class()

    @staticmethod
    def apply_each(queryset, call) -> tuple[list, list]:
        """Call a service for each object: ([(obj, result)], [(obj, ValidationError)])."""
        done, refused = [], []
        for obj in queryset:
            try:
                done.append((obj, call(obj)))
            except ValidationError as error:
                refused.append((obj, error))
        return done, refused

    @staticmethod
    def show_refusals_on_form(form, refused, *, selected: int) -> None:
        if selected == 1:
            add_service_error(form, refused[0][1])
            return
        for obj, error in refused:
            form.add_error(None, [f"{obj}: {message}" for message in error.messages])

    def finish_revocations(self, request, form, done, refused, *, noun: str):
        """Messages and a redirect when something was revoked; the form with the errors when nothing was."""
        if not done:
            self.show_refusals_on_form(form, refused, selected=len(refused))
            return None
        self.message_user(request, f"Revoked {len(done)} {noun}.", messages.SUCCESS)
        for obj, error in refused:
            self.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def extra_object_tools(self, request, tools) -> list[dict]:
        return object_tool_links(self.admin_site, request, tools)


class ChangedThroughServicesAdmin(ServicePagesAdmin):
    """Object pages are read-only: the object changes only through the actions (services), and is
    never deleted (revoked or deactivated instead, which keeps the record of when and why)."""

    def has_change_permission(self, request, obj=None):
        # Actions are allowed with the model's change permission (asked without an object).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


class CredentialAdmin(ChangedThroughServicesAdmin):
    list_filter = (StatusFilter,)
    list_per_page = 50

    @admin.display(description="status")
    def status(self, obj) -> str:
        return obj.state().label


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- workspaces and product spaces --------------------------------------------------------------
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

    def has_delete_permission(self, request, obj=None):
        return False  # it would silently take every credential of the workspace with it

    @admin.display(description="product spaces")
    def product_space_codes(self, obj) -> str:
        return ", ".join(product_space.code for product_space in obj.product_spaces.all())

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = WorkspaceCreateForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                workspace = services.workspace_create(
                    actor=admin_actor(request), name=form.cleaned_data["name"],
                    display_name=form.cleaned_data["display_name"],
                    product_space_name=form.cleaned_data["product_space_name"] or None,
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                if IS_POPUP_VAR in request.POST:
                    return self.response_add(request, workspace)
                self.message_user(request, f"Created workspace {workspace}.", messages.SUCCESS)
                return HttpResponseRedirect(object_url(workspace))
        return self.form_page(request, form=form, title="Create workspace", submit_label="Create workspace",
                              intro="The workspace code is generated.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        query = {"workspace": unquote(object_id)}
        extra_context = {**(extra_context or {}), "extra_object_tools": self.extra_object_tools(request, [
            (ProductSpace, "add", "Add product space", query),
            (Client, "add", "Create client", query),
            (CustomerSigningKey, "add", "Generate signing key", query),
            (CustomerSigningKey, "upload", "Upload public key", query),
        ])}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ProductSpace)
class ProductSpaceAdmin(ChangedThroughServicesAdmin):
    list_display = ("name", "code", "workspace", "created_at")
    list_filter = ("workspace",)
    list_select_related = ("workspace",)
    search_fields = ("name", "code", "workspace__name", "workspace__code")
    fields = readonly_fields = ("name", "code", "workspace", "created_at")

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ProductSpaceCreateForm(request.POST)
        else:
            form = ProductSpaceCreateForm(initial={"workspace": object_from_query(request, "workspace", Workspace)})
        if form.is_valid():
            try:
                product_space = services.product_space_create(
                    actor=admin_actor(request), workspace=form.cleaned_data["workspace"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                if IS_POPUP_VAR in request.POST:
                    return self.response_add(request, product_space)
                self.message_user(request, f"Created product space {product_space}.", messages.SUCCESS)
                return HttpResponseRedirect(object_url(product_space.workspace))
        return self.form_page(request, form=form, title="Add product space", submit_label="Add product space",
                              intro="The product space code is generated.")


# --- clients and their secrets ------------------------------------------------------------------
class ClientSecretInline(ReadOnlyInline):
    model = ClientSecret
    fields = readonly_fields = ("hint", "status", "created_at", "last_used_at", "expires_at", "revoked_at",
                                "revoked_reason")
    verbose_name_plural = "secrets (shown only once, when issued)"

    @admin.display(description="status")
    def status(self, obj) -> str:
        return obj.state().label


@admin.register(Client)
class ClientAdmin(ChangedThroughServicesAdmin):
    list_display = ("name", "client_key", "workspace", "status", "created_at", "last_used_at")
    list_filter = ("is_active", "workspace")
    list_select_related = ("workspace",)
    search_fields = ("name", "client_key", "workspace__name", "workspace__code")
    fields = readonly_fields = ("name", "client_key", "workspace", "is_active", "created_at", "created_by",
                                "last_used_at")
    inlines = (ClientSecretInline,)
    actions = ("rotate_secret", "deactivate")

    @admin.display(description="status", ordering="is_active")
    def status(self, obj) -> str:
        return "active" if obj.is_active else "deactivated"

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ClientCreateForm(request.POST)
        else:
            form = ClientCreateForm(initial={"workspace": object_from_query(request, "workspace", Workspace)})
        if form.is_valid():
            try:
                client, plaintext = services.client_create(
                    actor=admin_actor(request), workspace=form.cleaned_data["workspace"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                return self.show_once(request, title="New client", issued=[issued_client_secret(client, plaintext)],
                                      next_url=object_url(client))
        return self.form_page(request, form=form, title="Create client", submit_label="Create client",
                              intro="The client key and its first secret are generated; the secret is shown once.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tools = []
        if self.admin_site._registry[ClientSecret].has_view_permission(request):
            query = {"client__id__exact": unquote(object_id)}
            tools.append({"url": admin_url(ClientSecret, "changelist", query=query), "label": "Revoke secrets"})
        extra_context = {**(extra_context or {}), "extra_object_tools": tools}
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def grace_note(grace_seconds: int) -> str:
        if grace_seconds == 0:
            return "The previous secrets were revoked."
        return f"The previous secrets keep working for {grace_seconds} seconds, then stop."

    @admin.action(description="Rotate secret of selected clients…", permissions=["change"])
    def rotate_secret(self, request, queryset):
        form = self.confirmation_form(request, RotateClientSecretForm)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = self.apply_each(queryset, lambda client: services.client_secret_rotate(
                actor=actor, client=client, grace_seconds=form.cleaned_data["grace_seconds"],
                reason=form.cleaned_data["reason"],
            ))
            if done:
                return self.show_once(
                    request, title="New client secrets", refused=refused,
                    issued=[issued_client_secret(client, plaintext) for client, (_, plaintext) in done],
                    notes=[self.grace_note(form.cleaned_data["grace_seconds"])],
                )
            self.show_refusals_on_form(form, refused, selected=len(refused))
        return self.confirmation_page(
            request, queryset, form=form, action="rotate_secret", title="Rotate client secrets",
            submit_label="Rotate",
            intro="Each selected client gets a new secret, shown once. Its current secrets keep working "
                  "for the grace period, then stop; 0 stops them now.",
        )

    @admin.action(description="Deactivate selected clients…", permissions=["change"])
    def deactivate(self, request, queryset):
        form = self.confirmation_form(request, ReasonForm)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = self.apply_each(queryset, lambda client: services.client_deactivate(
                actor=actor, client=client, reason=form.cleaned_data["reason"]))
            if response := self.finish_revocations(request, form, done, refused, noun="client(s)"):
                return response
        return self.confirmation_page(
            request, queryset, form=form, action="deactivate", title="Deactivate clients",
            submit_label="Deactivate",
            intro="The selected clients and all their secrets stop working now. This cannot be undone.",
        )


@admin.register(ClientSecret)
class ClientSecretAdmin(CredentialAdmin):
    list_display = ("hint", "client", "workspace", "status", "created_at", "last_used_at", "expires_at",
                    "revoked_at")
    list_filter = (StatusFilter, "client__workspace", "client")
    list_select_related = ("client__workspace",)
    search_fields = ("hint", "client__name", "client__client_key")
    fields = readonly_fields = ("client", "hint", "status", "created_at", "created_by", "last_used_at",
                                "expires_at", "revoked_at", "revoked_by", "revoked_reason")
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False  # secrets are issued by creating a client or rotating its secret

    @admin.display(description="workspace", ordering="client__workspace__name")
    def workspace(self, obj):
        return obj.client.workspace

    @admin.action(description="Revoke selected secrets…", permissions=["change"])
    def revoke(self, request, queryset):
        form = self.confirmation_form(request, ReasonForm)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = self.apply_each(queryset, lambda secret: services.client_secret_revoke(
                actor=actor, secret=secret, reason=form.cleaned_data["reason"]))
            if response := self.finish_revocations(request, form, done, refused, noun="secret(s)"):
                return response
        return self.confirmation_page(
            request, queryset, form=form, action="revoke", title="Revoke client secrets", submit_label="Revoke",
            intro="The selected secrets stop working now, whatever their grace period.",
        )


# --- API keys -----------------------------------------------------------------------------------
@admin.register(ApiKey)
class ApiKeyAdmin(CredentialAdmin):
    list_display = ("hint", "user", "format", "status", "comment", "created_at", "last_used_at", "revoked_at")
    list_filter = (StatusFilter, "format")
    list_select_related = ("user",)
    search_fields = ("hint", "comment", "user__username", "user__email")
    fields = readonly_fields = ("id", "user", "format", "hint", "comment", "status", "created_at", "created_by",
                                "last_used_at", "expires_at", "revoked_at", "revoked_by", "revoked_reason")
    actions = ("rotate", "revoke")

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="credentials_apikey_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "add_label": "Create API key",
                         "extra_object_tools": self.extra_object_tools(request, [
                             (ApiKey, "import", "Import legacy key", None)])}
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ApiKeyCreateForm(request.POST)
        else:
            form = ApiKeyCreateForm(initial={"user": object_from_query(request, "user", User)})
        if form.is_valid():
            try:
                api_key, plaintext = services.api_key_create(
                    actor=admin_actor(request), user=form.cleaned_data["user"], comment=form.cleaned_data["comment"],
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                return self.show_once(request, title="New API key", issued=[issued_api_key(api_key, plaintext)],
                                      next_url=object_url(api_key))
        return self.form_page(request, form=form, title="Create API key", submit_label="Create API key",
                              intro="A new 64-character key, shown once.")

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ApiKeyImportForm(request.POST)
        else:
            form = ApiKeyImportForm(initial={"user": object_from_query(request, "user", User)})
        if form.is_valid():
            try:
                api_key = services.api_key_import_legacy(
                    actor=admin_actor(request), user=form.cleaned_data["user"], key=form.cleaned_data["key"],
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                self.message_user(request, f"Imported the legacy API key {api_key}.", messages.SUCCESS)
                return HttpResponseRedirect(object_url(api_key))
        return self.form_page(request, form=form, title="Import legacy API key", submit_label="Import",
                              intro="A 32-character key issued by the old system keeps working here.")

    @admin.action(description="Rotate selected API keys…", permissions=["change"])
    def rotate(self, request, queryset):
        form = self.confirmation_form(request, ReasonForm)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = self.apply_each(queryset, lambda api_key: services.api_key_rotate(
                actor=actor, api_key=api_key, reason=form.cleaned_data["reason"]))
            if done:
                return self.show_once(
                    request, title="New API keys", refused=refused,
                    issued=[issued_api_key(new, plaintext) for _, (new, plaintext) in done],
                )
            self.show_refusals_on_form(form, refused, selected=len(refused))
        return self.confirmation_page(
            request, queryset, form=form, action="rotate", title="Rotate API keys", submit_label="Rotate",
            intro="Each selected key stops working now, with every API token minted from it, and is replaced "
                  "by a new key with the same comment, shown once.",
        )

    @admin.action(description="Revoke selected API keys…", permissions=["change"])
    def revoke(self, request, queryset):
        form = self.confirmation_form(request, ReasonForm)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = self.apply_each(queryset, lambda api_key: services.api_key_revoke(
                actor=actor, api_key=api_key, reason=form.cleaned_data["reason"]))
            if response := self.finish_revocations(request, form, done, refused, noun="API key(s)"):
                return response
        return self.confirmation_page(
            request, queryset, form=form, action="revoke", title="Revoke API keys", submit_label="Revoke",
            intro="The selected keys and every API token minted from them stop working now.",
        )


# --- customer signing keys ----------------------------------------------------------------------
@admin.register(CustomerSigningKey)
class CustomerSigningKeyAdmin(CredentialAdmin):
    list_display = ("kid", "name", "workspace", "source", "status", "created_at", "last_used_at", "revoked_at")
    list_filter = (StatusFilter, "workspace", "source")
    list_select_related = ("workspace",)
    search_fields = ("name", "fingerprint", "workspace__name", "workspace__code")
    fields = readonly_fields = ("kid", "name", "workspace", "source", "algorithm", "status", "fingerprint",
                                "public_key_pem", "created_at", "created_by", "last_used_at", "revoked_at",
                                "revoked_by", "revoked_reason")
    actions = ("revoke",)

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view),
                 name="credentials_customersigningkey_upload"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "add_label": "Generate key pair",
                         "extra_object_tools": self.extra_object_tools(request, [
                             (CustomerSigningKey, "upload", "Upload public key", None)])}
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Generate a key pair: the private key and its CUSTOMER_* block are shown once, never stored."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = SigningKeyGenerateForm(request.POST)
        else:
            form = SigningKeyGenerateForm(initial={"workspace": object_from_query(request, "workspace", Workspace)})
        if form.is_valid():
            try:
                key, private_pem = services.signing_key_generate(
                    actor=admin_actor(request), workspace=form.cleaned_data["workspace"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                env_block = services.customer_env_block(key=key, private_pem=private_pem,
                                                        product_space=form.cleaned_data["product_space"])
                return self.show_once(request, title="New signing key", next_url=object_url(key), issued=[
                    Issued(heading=f"Signing key {key.kid} of {key.workspace}", url=object_url(key), values=[
                        ShownValue("kid (CUSTOMER_SIGNING_KEY_ID)", str(key.kid)),
                        ShownValue("Private key (PEM)", private_pem, secret=True),
                        ShownValue("CUSTOMER_* environment block", env_block, secret=True),
                    ]),
                ], notes=["Replace CUSTOMER_UNIQUE_CUSTOMER_ID with the id of the customer each token is for."])
        return self.form_page(
            request, form=form, title="Generate signing key pair", submit_label="Generate",
            intro="An RSA-2048 key pair for RS256 customer tokens. Only the public key is stored; the private "
                  "key is shown once, with a ready-to-paste CUSTOMER_* block.",
            extra_links=self.extra_object_tools(request, [(CustomerSigningKey, "upload", "Upload a public key instead",
                                                           None)]),
        )

    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = SigningKeyUploadForm(request.POST, request.FILES)
        else:
            form = SigningKeyUploadForm(initial={"workspace": object_from_query(request, "workspace", Workspace)})
        if form.is_valid():
            try:
                key = services.signing_key_register(
                    actor=admin_actor(request), workspace=form.cleaned_data["workspace"],
                    public_key_pem=form.cleaned_data["public_key_pem"], name=form.cleaned_data["name"],
                )
            except ValidationError as error:
                add_service_error(form, error)
                form.forget_pasted_key()
            else:
                self.message_user(request, f"Registered signing key {key.kid} for {key.workspace}.", messages.SUCCESS)
                return HttpResponseRedirect(object_url(key))
        elif form.is_bound:
            form.forget_pasted_key()
        return self.form_page(request, form=form, title="Upload public key", submit_label="Upload",
                              intro="The public half of a key pair your backend signs customer tokens with.")

    @admin.action(description="Revoke selected signing keys…", permissions=["change"])
    def revoke(self, request, queryset):
        form = self.confirmation_form(request, ReasonForm)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = self.apply_each(queryset, lambda key: services.signing_key_revoke(
                actor=actor, key=key, reason=form.cleaned_data["reason"]))
            if response := self.finish_revocations(request, form, done, refused, noun="signing key(s)"):
                return response
        return self.confirmation_page(
            request, queryset, form=form, action="revoke", title="Revoke signing keys", submit_label="Revoke",
            intro="Customer tokens signed with the selected keys are refused from now on, and their live "
                  "connections are closed.",
        )


# --- platform token keys ------------------------------------------------------------------------
@admin.register(PlatformTokenKey)
class PlatformTokenKeyAdmin(CredentialAdmin):
    # The encrypted secret is never shown, not even encrypted.
    list_display = ("kid", "status", "signs_new_tokens", "created_at", "last_used_at", "retired_at", "revoked_at")
    fields = readonly_fields = ("kid", "algorithm", "status", "signs_new_tokens", "created_at", "created_by",
                                "last_used_at", "retired_at", "revoked_at", "revoked_by", "revoked_reason")
    actions = ("revoke",)

    @admin.display(description="signs new tokens", boolean=True)
    def signs_new_tokens(self, obj) -> bool:
        current = selectors.platform_token_key_current()
        return current is not None and current.pk == obj.pk

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "add_label": "Rotate platform token key"}
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a platform key is rotating: the new key signs, the previous one is retired."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                key = services.platform_token_key_rotate(actor=admin_actor(request),
                                                         reason=form.cleaned_data["reason"])
            except ValidationError as error:
                add_service_error(form, error)
            else:
                self.message_user(request, f"Platform token key {key.kid} signs new API tokens from now on.",
                                  messages.SUCCESS)
                return HttpResponseRedirect(admin_url(PlatformTokenKey, "changelist"))
        return self.form_page(
            request, form=form, title="Rotate platform token key", submit_label="Rotate",
            intro="A new key signs API tokens from now on. The current key is retired: it keeps verifying the "
                  "tokens it signed until they expire. Revoke it to refuse those tokens at once.",
        )

    @admin.action(description="Revoke selected platform token keys…", permissions=["change"])
    def revoke(self, request, queryset):
        form = self.confirmation_form(request, ReasonForm)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = self.apply_each(queryset, lambda key: services.platform_token_key_revoke(
                actor=actor, key=key, reason=form.cleaned_data["reason"]))
            if response := self.finish_revocations(request, form, done, refused, noun="platform key(s)"):
                return response
        return self.confirmation_page(
            request, queryset, form=form, action="revoke", title="Revoke platform token keys",
            submit_label="Revoke", intro="Every API token signed with the selected keys is refused from now on.",
        )


# --- users and memberships ----------------------------------------------------------------------
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
        return (obj is None or request.user.is_superuser or obj.pk == request.user.pk
                or not (obj.is_staff or obj.is_superuser))

    def has_change_permission(self, request, obj=None):
        # Also guards the password page, which asks with the user whose password it sets.
        return self.may_manage(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.may_manage(request, obj) and super().has_delete_permission(request, obj)

    def get_urls(self):
        return [
            path("add-api-user/", self.admin_site.admin_view(self.add_api_user_view),
                 name="credentials_user_add_api_user"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "extra_object_tools": self.extra_object_tools(request, [
            (User, "add_api_user", "Create API user", None)])}
        return super().changelist_view(request, extra_context)

    def add_api_user_view(self, request):
        """An API user (no password; signs in with keys) and their first API key, shown once —
        what `manage.py createapiuser` makes."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiUserCreateForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            actor = admin_actor(request)
            try:
                user = services.api_user_create(actor=actor, email=form.cleaned_data["email"],
                                                workspace=form.cleaned_data["workspace"],
                                                role=form.cleaned_data["role"] or None)
            except ValidationError as error:
                add_service_error(form, error)
            else:
                # A brand-new user has no keys, so the first key cannot hit the limit.
                api_key, plaintext = services.api_key_create(actor=actor, user=user, comment="first key")
                return self.show_once(request, title="New API user", issued=[issued_api_key(api_key, plaintext)],
                                      next_url=object_url(user))
        return self.form_page(request, form=form, title="Create API user", submit_label="Create API user",
                              intro="A user who calls the API with API keys, and their first key, shown once.")

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
            services.membership_set(actor=actor, user=form.instance, workspace=membership.workspace,
                                    role=membership.role)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        query = {"user": unquote(object_id)}
        extra_context = {**(extra_context or {}), "extra_object_tools": object_tool_links(self.admin_site, request, [
            (ApiKey, "add", "Create API key", query),
            (ApiKey, "import", "Import legacy API key", query),
        ])}
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
        membership = services.membership_set(actor=admin_actor(request), user=obj.user, workspace=obj.workspace,
                                             role=obj.role)
        obj.pk, obj.created_at = membership.pk, membership.created_at
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.membership_remove(actor=admin_actor(request), membership=obj)

    def delete_queryset(self, request, queryset):
        actor = admin_actor(request)
        for membership in queryset.select_related("user", "workspace"):
            services.membership_remove(actor=actor, membership=membership)


# --- audit log ----------------------------------------------------------------------------------
@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log is append-only."""

    list_display = ("at", "actor_label", "via", "action", "outcome", "target_label", "ip")
    list_filter = ("action", "outcome", "via")
    date_hierarchy = "at"
    search_fields = ("actor_label", "action", "target_label", "target_id")
    fields = readonly_fields = ("at", "actor", "actor_label", "via", "ip", "action", "outcome", "target_type",
                                "target_id", "target_label", "details")
    list_per_page = 100

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
