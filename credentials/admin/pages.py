"""What every credentials admin page shares: links, the three kinds of pages of our own, and the
admin action written once.

- a form page for creations that need a service (``service_form_view``);
- a confirmation page for actions, asking for a reason (and, to rotate a client secret, a grace period);
- the show-once page: a new client secret, API key or private key is shown exactly once. The POST
  that made it redirects to a GET of the page (so a reload never repeats the action); what the page
  shows waits for that one read in Django's cache, encrypted with a key kept in the admin's session,
  and both are deleted by the read: a reload, another browser or another admin finds nothing. Never
  in a message, a cookie or a URL.

An action (``service_action``) is one service called for each selected object after that
confirmation; the same action runs from the change list (bulk) and from a button on the object's own
page (``object_action_view``).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.utils import quote, unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.http import urlencode

from credentials.admin.audit import CREDENTIAL_PARAMETER, credential_filter_value
from credentials.audit import Actor
from credentials.forms import ReasonForm, add_service_error
from credentials.models import AuditEvent, AuditOutcome, CredentialState

CONFIRM_FIELD = "confirm"  # marks the second POST of an action: the confirmation form was submitted
SHOW_ONCE_SECONDS = 600  # how long a made secret waits for its one read before it is gone for good
SHOW_ONCE_PREFIX = "show-once:"

logger = logging.getLogger(__name__)


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
        return model._default_manager.filter(pk=value).first()
    except (ValueError, ValidationError):
        return None


def rotation_links(obj: Model, *, action: str, new_field: str) -> tuple[str, str]:
    """(what replaced ``obj``, what ``obj`` replaced) as admin links, read from the audit log's
    ``action`` events, whose details name the successor under ``new_field``; "" where there is none."""
    model, pk = type(obj), str(obj.pk)
    rotations = AuditEvent.objects.filter(action=action, outcome=AuditOutcome.SUCCESS).order_by("-id")

    def link(other_pk) -> str:
        other = model._default_manager.filter(pk=other_pk).first() if other_pk else None
        return format_html('<a href="{}">{}</a>', object_url(other), other) if other else ""

    successor = rotations.filter(target_type=model._meta.label_lower, target_id=pk).first()
    predecessor = rotations.filter(**{f"details__{new_field}": pk}).first()
    return (
        link(successor.details.get(new_field)) if successor else "",
        link(predecessor.target_id) if predecessor else "",
    )


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


# --- an action, written once ------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceAction:
    """One service, called for each selected object once the admin has confirmed (and said why).

    ``call(actor, obj, cleaned_data)`` runs the service for one object. Rotations name ``issued``:
    ``issued(obj, result)`` makes what the show-once page shows. Other actions name ``done``, the
    message for how many objects it changed, e.g. "Revoked {n} API key(s).".
    """

    name: str
    description: str
    title: str
    button: str  # the submit button, and the object page's button
    intro: str
    call: Callable[[Actor, Any, dict], Any]
    done: str = ""
    issued: Callable[[Any, Any], Issued] | None = None
    notes: Callable[[dict], Sequence[str]] = lambda cleaned_data: ()
    form_class: type = ReasonForm
    warning: Callable[[Any], str] = lambda queryset: ""  # said on the confirmation page, for these objects

    def run(self, model_admin: ServicePagesAdmin, request, queryset):
        form = model_admin.confirmation_form(request, self.form_class)
        if form.is_valid():
            actor = admin_actor(request)
            done, refused = model_admin.apply_each(queryset, lambda obj: self.call(actor, obj, form.cleaned_data))
            if done and self.issued is not None:
                return model_admin.show_once(
                    request,
                    title=self.title,
                    refused=refused,
                    issued=[self.issued(obj, result) for obj, result in done],
                    notes=list(self.notes(form.cleaned_data)),
                )
            if done:
                model_admin.message_user(request, self.done.format(n=len(done)), messages.SUCCESS)
                for obj, error in refused:
                    model_admin.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            model_admin.show_refusals_on_form(form, refused, selected=len(refused))
        return model_admin.confirmation_page(
            request,
            queryset,
            form=form,
            action=self.name,
            title=self.title,
            submit_label=self.button,
            intro=self.intro,
            warning=self.warning(queryset),
        )

    def as_admin_action(self):
        def action(model_admin, request, queryset):
            return self.run(model_admin, request, queryset)

        action.__name__ = self.name
        return admin.action(description=self.description, permissions=["change"])(action)


# --- shared machinery ---------------------------------------------------------------------------
class ServicePagesAdmin(admin.ModelAdmin):
    """A ModelAdmin with form, confirmation and show-once pages, and extra object-tool links.

    ``service_actions`` are offered on the change list and as buttons on each object's page.
    """

    service_actions: Sequence[ServiceAction] = ()

    def get_actions(self, request):
        actions = super().get_actions(request)
        for service_action in self.service_actions:
            func = service_action.as_admin_action()
            if self._filter_actions_by_permissions(request, [(func, service_action.name, service_action.description)]):
                actions[service_action.name] = (func, service_action.name, service_action.description)
        return actions

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("shown/<str:handle>/", self.admin_site.admin_view(self.shown_view), name="{}_{}_shown".format(*info)),
            *[
                path(
                    f"<path:object_id>/{action.name}/",
                    self.admin_site.admin_view(self.object_action_view),
                    {"action_name": action.name},
                    name="{}_{}_{}".format(*info, action.name),
                )
                for action in self.service_actions
            ],
            *super().get_urls(),
        ]

    def object_action_view(self, request, object_id, action_name):
        """An action on one object, from the button on its page: the same confirmation and service as
        the bulk action on the change list; back to the object's page when done."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        action = next(a for a in self.service_actions if a.name == action_name)
        queryset = self.get_queryset(request).filter(pk=unquote(object_id))
        obj = queryset.first()
        if obj is None:
            raise Http404
        response = action.run(self, request, queryset)
        if isinstance(response, HttpResponseRedirect) and response.url == request.get_full_path():
            return HttpResponseRedirect(object_url(obj))  # done: back to the object, not to this form
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tools = list((extra_context or {}).get("extra_object_tools", ()))
        if self.has_change_permission(request):
            tools += [
                {"url": admin_url(self.model, action.name, object_id), "label": action.button}
                for action in self.service_actions
            ]
        obj = self.get_object(request, unquote(object_id))
        audit_admin = self.admin_site._registry.get(AuditEvent)
        if obj is not None and audit_admin is not None and audit_admin.has_view_permission(request):
            tools.append(
                {"url": admin_url(AuditEvent, "changelist", query=self.audit_log_query(obj)), "label": "Audit log"}
            )
        extra_context = {**(extra_context or {}), "extra_object_tools": tools}
        return super().change_view(request, object_id, form_url, extra_context)

    def audit_log_query(self, obj) -> dict:
        """The audit log's filter for ``obj``'s page link: its events (credentials/admin/audit.py)."""
        return {CREDENTIAL_PARAMETER: credential_filter_value(obj)}

    def page_context(self, request, *, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "subtitle": None,  # admin/base.html reads it; given, so the engine logs no missing variable
            "has_view_permission": self.has_view_permission(request),
            **extra,
        }

    def form_page(
        self,
        request,
        *,
        form,
        title: str,
        submit_label: str,
        intro: str = "",
        template: str = "admin/credentials/form_page.html",
        **extra,
    ) -> TemplateResponse:
        adminform = helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}, model_admin=self)
        context = self.page_context(
            request,
            title=title,
            form=form,
            adminform=adminform,
            media=self.media + adminform.media,
            submit_label=submit_label,
            intro=intro,
            cancel_url=admin_url(self.model, "changelist"),
            is_popup=IS_POPUP_VAR in request.GET or IS_POPUP_VAR in request.POST,
            is_popup_var=IS_POPUP_VAR,
            to_field=request.GET.get(TO_FIELD_VAR) or request.POST.get(TO_FIELD_VAR),
            to_field_var=TO_FIELD_VAR,
            **{"extra_links": [], **extra},
        )
        return TemplateResponse(request, template, context)

    def service_form_view(
        self,
        request,
        *,
        form_class,
        call,
        done,
        title: str,
        submit_label: str,
        intro: str = "",
        preselect: dict[str, type[Model]] | None = None,
        with_files: bool = False,
        on_refused=None,
        **extra,
    ) -> Any:
        """A creation page: the form, then ``call(actor, cleaned_data)`` (a service), then
        ``done(result, cleaned_data)`` (a show-once page or a redirect). A service's refusal is shown
        on the form. ``preselect`` fills fields from the query string (?workspace=<pk>)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = form_class(request.POST, request.FILES) if with_files else form_class(request.POST)
        else:
            form = form_class(
                initial={name: object_from_query(request, name, model) for name, model in (preselect or {}).items()}
            )
        if form.is_valid():
            try:
                result = call(admin_actor(request), form.cleaned_data)
            except ValidationError as error:
                add_service_error(form, error)
                if on_refused:
                    on_refused(form)
            else:
                return done(result, form.cleaned_data)
        elif form.is_bound and on_refused:
            on_refused(form)
        return self.form_page(request, form=form, title=title, submit_label=submit_label, intro=intro, **extra)

    def confirmation_page(
        self, request, queryset, *, form, action: str, title: str, submit_label: str, intro: str = "", warning: str = ""
    ) -> TemplateResponse:
        return self.form_page(
            request,
            form=form,
            title=title,
            submit_label=submit_label,
            intro=intro,
            warning=warning,
            template="admin/credentials/action_confirmation.html",
            objects=list(queryset),
            action=action,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
            confirm_field=CONFIRM_FIELD,
        )

    def show_once(
        self, request, *, title: str, issued: list[Issued], refused=(), next_url: str = "", notes: Sequence[str] = ()
    ):
        """Redirect to the one GET that shows what was just made (POST → redirect → GET)."""
        page = {
            "title": title,
            "issued": [asdict(item) for item in issued],
            "notes": list(notes),
            "refused": [(str(obj), message) for obj, error in refused for message in error.messages],
            "next_url": next_url or admin_url(self.model, "changelist"),
        }
        handle, key = secrets.token_urlsafe(18), Fernet.generate_key()
        try:
            cache.set(SHOW_ONCE_PREFIX + handle, Fernet(key).encrypt(json.dumps(page).encode()), SHOW_ONCE_SECONDS)
        except Exception:
            # No cache to wait in: show it in this response rather than lose what was just made.
            logger.warning("Show-once page shown in the POST's response: the cache is unavailable.")
            return self.show_once_page(request, page)
        request.session[SHOW_ONCE_PREFIX + handle] = key.decode()
        return HttpResponseRedirect(admin_url(self.model, "shown", handle))

    def shown_view(self, request, handle: str):
        """The show-once page, the one time: its key leaves the session and its content the cache."""
        key = request.session.pop(SHOW_ONCE_PREFIX + handle, None)
        try:
            sealed = cache.get(SHOW_ONCE_PREFIX + handle)
            cache.delete(SHOW_ONCE_PREFIX + handle)
        except Exception:
            sealed = None
        try:
            page = json.loads(Fernet(key.encode()).decrypt(sealed)) if key and sealed else None
        except InvalidToken:
            page = None
        if page is None:
            response = TemplateResponse(
                request,
                "admin/credentials/show_once.html",
                self.page_context(
                    request, title="Already shown", gone=True, next_url=admin_url(self.model, "changelist")
                ),
                status=410,
            )
            add_never_cache_headers(response)
            return response
        return self.show_once_page(request, page)

    def show_once_page(self, request, page: dict) -> TemplateResponse:
        page = {
            **page,
            "issued": [
                Issued(
                    heading=item["heading"], url=item["url"], values=[ShownValue(**value) for value in item["values"]]
                )
                for item in page["issued"]
            ],
        }
        # Every variable the template reads is given: a missing one makes Django's template engine log
        # the whole context (the secrets included) at DEBUG.
        response = TemplateResponse(
            request, "admin/credentials/show_once.html", self.page_context(request, gone=False, **page)
        )
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

    def extra_object_tools(self, request, tools) -> list[dict]:
        return object_tool_links(self.admin_site, request, tools)

    def message_and_redirect(self, request, message: str, url: str) -> HttpResponseRedirect:
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(url)


class ChangedThroughServicesAdmin(ServicePagesAdmin):
    """Object pages are read-only: the object changes only through the actions (services), and is
    never deleted (revoked or deactivated instead, which keeps the record of when and why)."""

    def has_change_permission(self, request, obj=None):
        # Actions are allowed with the model's change permission (asked without an object).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


def short_time(value) -> str:
    """A time as the lists show it: local, to the minute (Django's default is twice as wide)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def credential_status(obj) -> str:
    """State and, where it has one, when it ends or ended: one column instead of three in a list."""
    state = obj.state()
    if state == CredentialState.REVOKED:
        return f"Revoked {short_time(obj.revoked_at)}"
    if state == CredentialState.EXPIRED:
        return f"Expired {short_time(obj.expires_at)}"
    return f"Active until {short_time(obj.expires_at)}" if obj.expires_at else "Active"


class CredentialAdmin(ChangedThroughServicesAdmin):
    list_filter = (StatusFilter,)
    list_per_page = 50

    @admin.display(description="status")
    def status(self, obj) -> str:
        return credential_status(obj)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj) -> str:
        return short_time(obj.last_used_at)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj) -> str:
        return short_time(obj.created_at)


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
