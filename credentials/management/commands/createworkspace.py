"""`manage.py createworkspace NAME [--product-space NAME] [--display-name TEXT] [--json]`

JSON: {"workspace_id", "name", "product_space_code"} (the code is null without --product-space).
"""

from credentials import services
from credentials.management.commands._bootstrap import CLI, BootstrapCommand, Created


class Command(BootstrapCommand):
    help = "Create a workspace (NAME is a unique slug, e.g. acme-prod), optionally with a first product space."
    audit_action = "workspace.create"

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="Unique slug, e.g. acme-prod.")
        parser.add_argument("--product-space", metavar="NAME", help="Also create a product space with this name.")
        parser.add_argument("--display-name", default="", help="Name shown to people (default: none).")
        super().add_arguments(parser)

    def create(self, *, name, product_space, display_name, **options) -> Created:  # type: ignore[override]  # the options this command adds
        workspace = services.workspace_create(
            actor=CLI,
            name=name,
            display_name=display_name,
            product_space_name=product_space,
        )
        first_space = workspace.product_spaces.order_by("created_at", "id").first()
        space_code = first_space.code if first_space else None
        lines = [f"Workspace {workspace.name} created.", f"  workspace id (code): {workspace.code}"]
        if space_code:
            lines.append(f"  product space code:  {space_code} ({first_space.name})")  # type: ignore[union-attr]
        else:
            lines.append("  no product space yet (add one with --product-space NAME or in the admin)")
        return Created(
            data={"workspace_id": workspace.code, "name": workspace.name, "product_space_code": space_code},
            summary="\n".join(lines),
        )
