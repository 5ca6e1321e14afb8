"""The OpenAPI description of the API (authplatform/openapi.py): valid, complete, served.

That every answer of the suite matches it is checked after each test (tests/openapi_conformance.py).
"""

from __future__ import annotations

import io
import json
import re

import httpx
import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from tests.openapi_conformance import conformance

# The descriptions themselves, and Socket.IO (docs/asyncapi.yaml).
NOT_DESCRIBED = ("api/v1/schema/", "api/v1/docs/", "api/v1/redoc/", "api/v1/asyncapi.yaml", "api/v1/wss/")


def test_the_schema_validates_without_a_warning():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    schema = json.loads(out.getvalue())
    assert schema["openapi"] == "3.1.0"


def _api_routes(patterns, prefix="") -> list[tuple[str, object]]:
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/") and not route.startswith(NOT_DESCRIBED):
            routes.append((route, pattern.callback))
    return routes


def test_every_api_url_and_method_is_described_with_its_credentials_and_errors():
    conformance.load()
    described = {(op.template, op.method) for op in conformance.operations}
    routes = _api_routes(get_resolver().url_patterns)
    assert len(routes) >= 20
    for route, callback in routes:
        template = "/" + route.replace("<code:code>", "{code}").replace("<uuid:message_id>", "{message_id}").replace(
            "<str:key_id>", "{key_id}"
        )
        methods = {
            m.upper()
            for m in callback.view_class.http_method_names
            if hasattr(callback.view_class, m) and m not in ("options", "head")
        }
        assert methods, route
        for method in methods:
            assert (template, method) in described, (template, method)
    for op in conformance.operations:
        statuses = set(op.responses)
        assert {"429", "503"} <= statuses, (op.method, op.template)  # the refusals every operation can give
        assert statuses & {"401", "403"}, (op.method, op.template)  # every operation takes a credential
        for status in statuses - {"200", "201", "202", "204"}:
            assert op.responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, (op.method, op.template, status)


@pytest.mark.live
def test_the_schema_and_its_pages_are_served_without_credentials(daphne_server):
    base = daphne_server.url
    as_yaml = httpx.get(f"{base}/api/v1/schema/")
    assert as_yaml.status_code == 200 and as_yaml.headers["content-type"].startswith("application/vnd.oai.openapi")
    as_json = httpx.get(f"{base}/api/v1/schema/?format=json")
    assert as_json.status_code == 200
    assert yaml.safe_load(as_yaml.text) == as_json.json()
    assert "/api/v1/in-app-messages" in as_json.json()["paths"]
    for page, asset in (("docs", "swagger-ui-dist"), ("redoc", "redoc")):
        html = httpx.get(f"{base}/api/v1/{page}/")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        # Assets from our own static files (drf-spectacular-sidecar), never from a CDN.
        assert f"/static/drf_spectacular_sidecar/{asset}/" in html.text
        assert "cdn" not in html.text.lower() and "https://" not in html.text


# Where a reason is written in the code that answers HTTP (live/ answers on sockets: docs/live-delivery.md).
HTTP_PACKAGES = ("authplatform", "credentials", "tokens", "notifications")
RAISERS = {"CredentialRefused", "InvalidInput", "ObjectNotFound", "NotPermitted", "Conflict", "DomainError"}


def _reasons_in_code() -> dict[str, str]:
    import ast
    from pathlib import Path

    from tests.live import ROOT

    found: dict[str, str] = {}

    def note(node, where: Path) -> None:
        # Reasons are snake_case codes (an audit entry's reason= is a sentence, and not one of them).
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"[a-z]+(_[a-z]+)*", node.value)
        ):
            found.setdefault(node.value, f"{where.relative_to(ROOT)}:{node.lineno}")

    for package in HTTP_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                    for keyword in node.keywords:
                        if keyword.arg == "reason":
                            note(keyword.value, path)
                    if name in RAISERS and node.args:
                        note(node.args[0], path)
                    if name in ("error_response", "error_body") and len(node.args) >= 3:
                        note(node.args[2], path)
                elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name) and target.id == "reason":  # a class's default reason
                        note(node.value, path)
                    if (
                        isinstance(target, ast.Name)
                        and target.id.endswith(("REASONS", "REASON_OVERRIDES"))
                        and isinstance(node.value, ast.Dict)
                        and target.id != "ERROR_REASONS"
                    ):
                        for value in node.value.values:  # status or exception → reason
                            note(value, path)
    return found


def test_every_reason_the_code_answers_with_is_in_the_schema():
    from authplatform.openapi import ERROR_REASONS

    in_code = _reasons_in_code()
    assert len(in_code) >= 40
    missing = {reason: where for reason, where in in_code.items() if reason not in ERROR_REASONS}
    assert not missing, f"reasons the schema's Error component does not list: {missing}"
