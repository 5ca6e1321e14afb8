"""Who did something, and the audit trail it leaves.

Every service takes an ``Actor`` (keyword ``actor=``): the signed-in admin, the API user, or the command
line. Successful changes are recorded inside the service's transaction, so an event exists exactly
when the change does; failures are recorded by ``audit_failures`` after the failed transaction has
rolled back, so the record survives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from credentials.models import AuditEvent, AuditOutcome, ClientSecret, Workspace


@dataclass(frozen=True)
class Actor:
    user: Any = None  # credentials.User or None
    ip: str | None = None
    via: str = "cli"  # "admin", "api" or "cli"
    anonymous: bool = False  # someone not signed in (e.g. trying to sign in), rather than the platform

    @property
    def label(self) -> str:
        if self.user is None:
            return f"{'anonymous' if self.anonymous else 'system'} ({self.via})"
        return self.user.get_username() or str(self.user.pk)

    @classmethod
    def from_request(cls, request, *, via: str) -> Actor:
        from authplatform.client_ip import client_ip

        ip = client_ip(request)
        user = getattr(request, "user", None)
        return cls(user=user if getattr(user, "is_authenticated", False) else None, ip=str(ip) if ip else None, via=via)


CLI = Actor(via="cli")


def _target_fields(target: models.Model | None) -> dict[str, str]:
    if target is None:
        return {}
    return {
        "target_type": target._meta.label_lower,
        "target_id": str(target.pk),
        "target_label": str(target)[:300],
    }


def workspace_of(target: models.Model | None, details: dict[str, Any]) -> str:
    """The code of the workspace an event concerns, for the audit log's workspace filter: the target's
    own (a workspace, or what belongs to one: product space, client, client secret, signing key,
    membership), else the one the details name (a membership change, whose target is the user); ""
    for what belongs to no workspace (users, API keys, platform keys, sign-ins)."""
    if isinstance(target, Workspace):
        return target.code
    if isinstance(target, ClientSecret):
        return target.client.workspace.code
    workspace = getattr(target, "workspace", None) if target is not None else None
    if isinstance(workspace, Workspace):
        return workspace.code
    named = details.get("workspace")
    return named if isinstance(named, str) else ""


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    outcome: str = AuditOutcome.SUCCESS,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event. ``details`` must never hold a secret."""
    details = details or {}
    return AuditEvent.objects.create(
        actor=actor.user,
        actor_label=actor.label[:200],
        via=actor.via,
        action=action,
        outcome=outcome,
        ip=actor.ip,
        details=details,
        workspace_code=workspace_of(target, details)[:8],
        **_target_fields(target),
    )


@contextmanager
def audit_failures(*, actor: Actor, action: str, target: models.Model | None = None) -> Iterator[None]:
    """Record a refused action (ValidationError) in the audit log, then let the error through."""
    try:
        yield
    except ValidationError as exc:
        audit_record(
            actor=actor, action=action, target=target, outcome=AuditOutcome.FAILURE, details={"errors": exc.messages}
        )
        raise
