"""`manage.py createsigningkey --workspace CODE [--product-space CODE] [--public-key FILE] [--name NAME] [--json]`

Without --public-key: generates an RSA-2048 pair, stores the public half and prints
{"kid", "private_key_pem", "env"} once; ``env`` is the first seed document's CUSTOMER_* block for the
customer's backend (the private key on one line with \\n escapes). The private key is never stored.
With --public-key FILE: registers that PEM public key and prints {"kid"}.
"""

from pathlib import Path

from django.core.management.base import CommandError

from credentials import services
from credentials.management.commands._bootstrap import CLI, SHOWN_ONCE, BootstrapCommand, Created


class Command(BootstrapCommand):
    help = "Create a customer signing key (RS256) for a workspace: generate a key pair, or register a public key."
    audit_action = "signing_key.create"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--workspace", required=True, metavar="CODE", help="The workspace's 8-character code.")
        parser.add_argument(
            "--product-space",
            metavar="CODE",
            help="Product space written into the env block (default: the workspace's first).",
        )
        parser.add_argument(
            "--public-key",
            metavar="FILE",
            type=Path,
            help="Register this PEM public key instead of generating a key pair.",
        )
        parser.add_argument("--name", default="", help="A name to tell keys apart.")
        super().add_arguments(parser)

    def create(self, *, workspace, product_space, public_key, name, **options) -> Created:  # type: ignore[override]  # the options this command adds
        workspace = self.workspace_by_code(workspace)
        if public_key is not None:
            if product_space is not None:
                raise CommandError(
                    "--product-space only fills the env block of a generated key; "
                    "it has no meaning with --public-key. Nothing was changed."
                )
            return self._register(workspace, public_key, name)
        product_space = self.product_space_by_code(workspace, product_space) if product_space else None
        if product_space is None and not workspace.product_spaces.exists():
            # Customer tokens must name a product space; an env block without one signs no usable token.
            raise CommandError(
                f"Workspace {workspace.code} has no product space, and customer tokens must name one: "
                "add one first (in the admin, or createworkspace --product-space), or register a "
                "public key with --public-key. Nothing was changed."
            )
        key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace, name=name)
        env = services.customer_env_block(key=key, private_pem=private_pem, product_space=product_space)
        return Created(
            data={"kid": str(key.kid), "private_key_pem": private_pem, "env": env},
            summary="\n".join(
                [
                    f"Signing key {key.kid} generated for workspace {workspace.code}; only its public key is stored.",
                    "",
                    "Private key, for the customer's backend. " + SHOWN_ONCE,
                    private_pem.strip(),
                    "",
                    "Environment block for the customer's backend (replace CUSTOMER_UNIQUE_CUSTOMER_ID per customer):",
                    env.rstrip("\n"),
                ]
            ),
        )

    def _register(self, workspace, path: Path, name: str) -> Created:
        try:
            pem = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not a PEM text file"
            raise CommandError(
                f"Cannot read the public key file {str(path)!r}: {reason}. Nothing was changed."
            ) from None
        key = services.signing_key_register(actor=CLI, workspace=workspace, public_key_pem=pem, name=name)
        return Created(
            data={"kid": str(key.kid)},
            summary=f"Public key registered for workspace {workspace.code}.\n  kid: {key.kid}\n"
            f"  fingerprint (SHA-256): {key.fingerprint}",
        )
