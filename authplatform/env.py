"""Reading settings from the environment, and the development secrets file.

Development needs no exported variables: when DEBUG is on and a secret is not in the environment, one
is generated once into ``var/dev-secrets.json`` (git-ignored) and reused on every later start, so
sessions, credential digests and encrypted keys survive restarts. With DEBUG off, a missing secret is a
startup error: production must never run on a secret that was made up on the spot.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


class DevSecrets:
    """Secrets generated once for development and kept in a git-ignored file.

    ``generators`` maps each environment name to a function making a fresh value. The file is created
    with all of them at once (exclusive create, mode 0600), so two processes starting together agree.
    """

    def __init__(self, path: Path, *, debug: bool, generators: dict) -> None:
        self.path = path
        self.debug = debug
        self.generators = generators
        self._values: dict[str, str] | None = None

    def get(self, env_name: str) -> str:
        from_env = os.environ.get(env_name)
        if from_env:
            return from_env
        if not self.debug:
            raise ImproperlyConfigured(
                f"{env_name} is not set. It is required when DEBUG is off; "
                "development (DEBUG=1, the default) generates one into var/dev-secrets.json."
            )
        return self._file_values()[env_name]

    def _file_values(self) -> dict[str, str]:
        if self._values is None:
            fresh = {name: make() for name, make in self.generators.items()}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                stored = json.loads(self.path.read_text())
                self._values = {**fresh, **stored}
                if stored.keys() != self._values.keys():  # a secret added in a later version
                    self.path.write_text(json.dumps(self._values, indent=2))
            else:
                with os.fdopen(fd, "w") as fh:
                    json.dump(fresh, fh, indent=2)
                self._values = fresh
        return self._values


def random_secret() -> str:
    return secrets.token_urlsafe(48)
