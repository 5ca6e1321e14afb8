"""The import layering the README's layout promises, checked on the source (every import statement,
at any depth of a module): each package imports only the packages below it, so there are no cycles,
credentials never imports tokens, notifications or live, and live delivery never imports notifications."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Lowest first; a package may import itself and those before it.
LAYERS = ["authplatform", "credentials", "tokens", "live", "notifications"]
# The project's composition roots: they wire every app together, so they may import any.
COMPOSITION = {"authplatform/asgi.py", "authplatform/urls.py", "authplatform/settings.py"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(LAYERS)


def source_files(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative not in COMPOSITION and "/migrations/" not in relative:
            yield relative, path


@pytest.mark.parametrize("package", LAYERS)
def test_each_package_imports_only_the_layers_below_it(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    wrong = {relative: sorted(imported_packages(path) - allowed) for relative, path in source_files(package)}
    assert {relative: names for relative, names in wrong.items() if names} == {}


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from notifications import models\n    import live.fanout\n")
    assert imported_packages(module) == {"notifications", "live"}
