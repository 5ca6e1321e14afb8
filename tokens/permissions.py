"""Workspace roles: may this caller do that in this workspace?

Roles rank ``read`` < ``write`` < ``admin`` (credentials.models.ROLE_RANK); a higher role includes the
lower ones. Who has which role:

- an API user (API key or API token): their ``Membership`` in the workspace, read on every request,
  so removing a membership takes effect at once;
- a client (x-client-key + x-client-secret): ``write`` in its own workspace (it is that workspace's
  backend: it may send and read, not administer), nothing elsewhere;
- a customer (customer JWT) and anyone unauthenticated: no role anywhere.

A caller without the role gets 403 *without* ``invalid_authentication`` (its credentials are fine).

Usage in a view (e.g. the send API)::

    from tokens.permissions import caller_can, caller_require, WorkspaceRolePermission

    if caller_can(request, workspace, "write"): ...
    caller_require(request, workspace=workspace, role="write")   # raises the 403

    class MessageView(APIView):
        permission_classes = [WorkspaceRolePermission.of("write")]
        def get_permission_workspace(self, request):   # checked before the handler
            return Workspace.objects.filter(code=...).first()
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from authplatform.errors import NotPermitted, ObjectNotFound
from credentials.models import Membership, Role, Workspace, role_at_least
from tokens.principals import ApiKeyAuth, ClientPrincipal

CLIENT_ROLE = Role.WRITE


def caller_role(request, workspace: Workspace) -> str | None:
    """The caller's role in ``workspace``, or None. One query per workspace and request at most."""
    if workspace is None:
        return None
    user = getattr(request, "user", None)
    if isinstance(user, ClientPrincipal):
        return CLIENT_ROLE if user.client.workspace_id == workspace.pk else None
    if not isinstance(getattr(request, "auth", None), ApiKeyAuth) or not getattr(user, "is_authenticated", False):
        return None
    cache = request.__dict__.setdefault("_workspace_roles", {})
    if workspace.pk not in cache:
        cache[workspace.pk] = (
            Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True).first()
        )
    return cache[workspace.pk]


def caller_can(request, workspace: Workspace, role: str) -> bool:
    """Whether the caller has ``role`` (or a higher one) in ``workspace``. Never raises."""
    return role_at_least(caller_role(request, workspace), role)


def role_denied(workspace: Workspace, role: str) -> NotPermitted:
    return NotPermitted(
        "insufficient_role", f"Your credentials need the '{role}' role in workspace {workspace.code} for this."
    )


def role_check(*, held: str | None, workspace: Workspace, role: str, not_found: Exception) -> None:
    """The rule for every workspace object: a caller with no role in the workspace gets ``not_found``
    (so another workspace's codes and objects cannot be told from missing ones); one whose role is
    below ``role`` gets the 403."""
    if held is None:
        raise not_found
    if not role_at_least(held, role):
        raise role_denied(workspace, role)


def caller_require(request, *, workspace: Workspace, role: str) -> None:
    """403 (reason ``insufficient_role``, no ``invalid_authentication``) unless ``caller_can``."""
    if not caller_can(request, workspace, role):
        raise role_denied(workspace, role)


class WorkspaceRolePermission(BasePermission):
    """DRF permission: the caller needs ``role`` in the workspace the view names.

    ``WorkspaceRolePermission.of("write")`` makes the class to list. Before the handler, the workspace
    comes from ``view.get_permission_workspace(request)`` (None: not found → the view answers 404
    itself); ``role_check`` decides. Unauthenticated callers get the view's 401/403 with
    ``invalid_authentication``.
    """

    role: str = Role.READ

    @classmethod
    def of(cls, role: str) -> type[WorkspaceRolePermission]:
        Role(role)  # unknown role names fail at import time, not per request
        return type(f"WorkspaceRole_{role}", (cls,), {"role": role})

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False
        workspace = view.get_permission_workspace(request)
        if workspace is not None:
            role_check(
                held=caller_role(request, workspace),
                workspace=workspace,
                role=self.role,
                not_found=ObjectNotFound("not_found", "Not found."),
            )
        return True
