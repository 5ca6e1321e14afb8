"""`manage.py createclient --workspace CODE [--name NAME] [--json]`

JSON: {"client_key", "client_secret"}. The secret is shown this once; only its digest is stored.
"""

from credentials import services
from credentials.management.commands._bootstrap import CLI, SHOWN_ONCE, BootstrapCommand, Created


class Command(BootstrapCommand):
    help = "Create a server-to-server client (x-client-key / x-client-secret) in a workspace."
    audit_action = "client.create"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workspace", required=True, metavar="CODE", help="The workspace's 8-character code.")
        parser.add_argument("--name", default="", help="A name to tell clients apart (default: Client).")
        super().add_arguments(parser)

    def create(self, *, workspace, name, **options) -> Created:  # type: ignore[override]  # the options this command adds
        client, secret = services.client_create(
            actor=CLI,
            workspace=self.workspace_by_code(workspace),
            name=name,
        )
        return Created(
            data={"client_key": client.client_key, "client_secret": secret},
            summary="\n".join(
                [
                    f'Created client "{client.name}" in workspace {client.workspace.code}.',
                    f"  x-client-key:    {client.client_key}",
                    f"  x-client-secret: {secret}",
                    SHOWN_ONCE,
                ]
            ),
        )
