"""Every Socket.IO event the test suite's clients hear is what docs/asyncapi.yaml says.

tests/live_delivery's python-socketio client hands each event it receives (and each connect_error) to
``asyncapi.observe``: the event must be a message of the document, and its payload must validate
against that message's schema. After each test, what it broke fails it (tests/conftest.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from tests.live import ROOT

DOCUMENT = ROOT / "docs" / "asyncapi.yaml"


@dataclass
class AsyncApiConformance:
    validators: dict[str, Draft202012Validator] | None = None
    violations: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def load(self) -> dict[str, Draft202012Validator]:
        document = yaml.safe_load(DOCUMENT.read_text())
        components = document["components"]
        validators = {}
        for message in components["messages"].values():
            # Schemas refer to #/components/schemas/…: validate against the whole document's components.
            validators[message["name"]] = Draft202012Validator({**message["payload"], "components": components})
        self.validators = validators
        return validators

    def observe(self, event: str, payload: Any) -> None:
        validators = self.validators or self.load()
        self.counts["socket events checked"] += 1
        validator = validators.get(event)
        if validator is None:
            self.violations.append(f"event {event!r} is not a message of docs/asyncapi.yaml")
            return
        for error in validator.iter_errors(payload):
            path = "/".join(str(part) for part in error.absolute_path) or "(payload)"
            self.violations.append(f"{event}: {path}: {error.message[:300]}")

    def take_violations(self) -> list[str]:
        taken, self.violations = self.violations, []
        return taken


asyncapi = AsyncApiConformance()
