"""What the bootstrap commands (createworkspace, createclient, createsigningkey, createapiuser) share.

Each command parses its arguments, looks things up by code, calls one or two services with the command
line as the actor and returns what it made. This module turns that into exactly one JSON object
(``--json``, for scripts) or a readable summary, and turns a refusal into a one-line CommandError
(non-zero exit). The rules themselves live in credentials.services; the leading underscore keeps
Django from listing this module as a command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from credentials.audit import CLI, audit_record
from credentials.models import AuditOutcome, ProductSpace, Workspace

SHOWN_ONCE = "Shown only now: it is not stored in readable form and cannot be shown again."


def one_line(error: ValidationError) -> str:
    """A ValidationError as one line, naming the field when the error belongs to one."""
    if hasattr(error, "error_dict"):
        parts: list[str] = []
        for field, messages in error.message_dict.items():
            prefix = "" if field == "__all__" else f"{field}: "
            parts.extend(prefix + message for message in messages)
    else:
        parts = error.messages
    return " ".join(" ".join(parts).split())  # no newlines: scripts read stderr line by line


class UnknownCode(CommandError):
    """A code that names nothing: the command stops before any service runs."""


@dataclass(frozen=True)
class Created:
    data: dict[str, Any]  # the JSON object, keys exactly as docs/design.md "Bootstrap commands" lists them
    summary: str  # the same for a person at a terminal


class BootstrapCommand(BaseCommand):
    """Base of the bootstrap commands: subclasses implement ``create``.

    ``audit_action`` names the action a refusal by lookup is audited as (the services audit their own
    refusals; a code that names nothing never reaches them, so the command records it).
    """

    audit_action = ""

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="Print exactly one JSON object (for scripts) instead of a summary."
        )

    def create(self, **options: Any) -> Created:
        raise NotImplementedError

    def handle(self, *args, **options) -> None:
        try:
            created = self.create(**options)
        except ValidationError as error:
            raise CommandError(one_line(error)) from None
        except UnknownCode as error:
            audit_record(
                actor=CLI, action=self.audit_action, outcome=AuditOutcome.FAILURE, details={"errors": [str(error)]}
            )
            raise CommandError(str(error)) from None  # Django prints the class name: keep it CommandError
        self.stdout.write(json.dumps(created.data) if options["json"] else created.summary)

    # Lookups by the codes operators see; an unknown code stops the command before anything is made.
    @staticmethod
    def workspace_by_code(code: str) -> Workspace:
        normalized = (code or "").strip().upper()
        workspace = Workspace.objects.filter(code=normalized).first()
        if workspace is None:
            raise UnknownCode(f"No workspace has the code {code!r}. Nothing was changed.")
        return workspace

    @staticmethod
    def product_space_by_code(workspace: Workspace, code: str) -> ProductSpace:
        normalized = (code or "").strip().upper()
        product_space = workspace.product_spaces.filter(code=normalized).first()
        if product_space is None:
            raise UnknownCode(
                f"Workspace {workspace.code} has no product space with the code {code!r}. Nothing was changed."
            )
        return product_space
