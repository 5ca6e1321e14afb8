"""Every API answer the test suite sees is what the OpenAPI schema says (authplatform/openapi.py).

The suite's httpx clients (tests/live.py ``api_client``) hand each response to ``conformance.observe``:
when its method and path are an operation of the schema, its status must be one the operation
documents and its JSON body must validate against that response's schema, with objects closed (a
field the schema does not name is a violation too). After each test, what it broke fails it
(tests/conftest.py), so a view and its description cannot drift apart unseen.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import httpx
from jsonschema import Draft202012Validator


def _closed(node: Any) -> Any:
    """The schema with every object that lists its properties closed to others."""
    if isinstance(node, dict):
        node = {key: _closed(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_closed(value) for value in node]
    return node


@dataclass
class Operation:
    method: str
    template: str
    regex: re.Pattern
    responses: dict[str, Any]


@dataclass
class Conformance:
    operations: list[Operation] | None = None
    components: dict[str, Any] = field(default_factory=dict)
    validators: dict[tuple[str, str, str], Draft202012Validator] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def load(self) -> None:
        from drf_spectacular.generators import SchemaGenerator  # Django is set up by now

        schema = SchemaGenerator().get_schema(request=None, public=True)
        schema = json.loads(json.dumps(schema, default=str))  # lazy strings and the like → plain JSON
        self.components = _closed(schema.get("components", {}))
        operations = []
        for template, methods in schema["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            for method, operation in methods.items():
                operations.append(
                    Operation(method.upper(), template, re.compile(f"^{pattern}$"), operation["responses"])
                )
        # Literal paths before templated ones: customer/inbox/unread-count is not a message id.
        operations.sort(key=lambda op: op.template.count("{"))
        self.operations = operations

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation of the path the server routes ``path`` to (a literal path before a templated
        one, as Django's URL patterns are ordered), if it has ``method``."""
        if self.operations is None:
            self.load()
        template = next((op.template for op in self.operations if op.regex.match(path)), None)
        return next((op for op in self.operations if op.template == template and op.method == method), None)

    def observe(self, response: httpx.Response) -> None:
        request = response.request
        operation = self.operation(request.method, request.url.path)
        if operation is None:
            return  # not an API operation (unknown URL, method not allowed, admin, health)
        self.counts["responses checked"] += 1
        where = f"{request.method} {request.url.path} → {response.status_code}"
        documented = operation.responses.get(str(response.status_code))
        if documented is None:
            self.violations.append(
                f"{where}: status not in the schema (documented: {', '.join(sorted(operation.responses))})"
            )
            return
        content = documented.get("content")
        response.read()
        if not content:
            if response.content:
                self.violations.append(f"{where}: the schema says no body; got {response.content[:200]!r}")
            return
        try:
            body = response.json()
        except ValueError:
            self.violations.append(f"{where}: not JSON: {response.content[:200]!r}")
            return
        key = (operation.method, operation.template, str(response.status_code))
        validator = self.validators.get(key)
        if validator is None:
            body_schema = deepcopy(_closed(content["application/json"]["schema"]))
            validator = self.validators[key] = Draft202012Validator({**body_schema, "components": self.components})
        for error in validator.iter_errors(body):
            path = "/".join(str(part) for part in error.absolute_path) or "(body)"
            self.violations.append(f"{where}: {path}: {error.message[:300]}")

    def take_violations(self) -> list[str]:
        taken, self.violations = self.violations, []
        return taken

    def summary(self) -> str:
        return ", ".join(f"{name}: {count}" for name, count in sorted(self.counts.items()))


conformance = Conformance()
