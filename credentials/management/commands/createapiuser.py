"""`manage.py createapiuser EMAIL [--workspace CODE --role ROLE] [--json]`

JSON: {"user_id", "api_key"}. The user gets a first 64-character API key, shown this once.
"""

from credentials import services
from credentials.management.commands._bootstrap import CLI, SHOWN_ONCE, BootstrapCommand, Created
from credentials.models import Role


class Command(BootstrapCommand):
    help = "Create an API user with a first API key, optionally with a role in a workspace."
    audit_action = "api_user.create"

    def add_arguments(self, parser) -> None:
        parser.add_argument("email")
        parser.add_argument("--workspace", metavar="CODE", help="Give the user a role in this workspace.")
        # Not argparse choices: the service refuses an unknown role, so that refusal is audited too.
        parser.add_argument("--role", help=f"One of {', '.join(Role.values)} (default with --workspace: read).")
        super().add_arguments(parser)

    def create(self, *, email, workspace, role, **options) -> Created:  # type: ignore[override]  # the options this command adds
        workspace = self.workspace_by_code(workspace) if workspace is not None else None
        # Not wrapped in one transaction: that would roll back the audit record of a refused user too.
        # A brand-new user has no keys, so the key cannot hit the limit once the user exists.
        user = services.api_user_create(actor=CLI, email=email, workspace=workspace, role=role)
        _, api_key = services.api_key_create(actor=CLI, user=user, comment="created by createapiuser")
        membership = user.memberships.select_related("workspace").first()
        return Created(
            data={"user_id": str(user.pk), "api_key": api_key},
            summary="\n".join(
                [
                    f"API user {user.email} created.",
                    f"  user id: {user.pk}",
                    f"  role {membership.role} in workspace {membership.workspace.code}"
                    if membership
                    else "  no workspace role (add one with --workspace CODE --role ROLE or in the admin)",
                    f"  API key: {api_key}",
                    SHOWN_ONCE,
                ]
            ),
        )
