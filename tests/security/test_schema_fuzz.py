"""Schemathesis against the real server: every operation of the OpenAPI schema, with every credential
kind it accepts, fed requests generated from the schema (valid and deliberately invalid ones), seeded.

Each answer must be no 5xx, a status the operation documents, the content type, headers and body the
schema gives it, and input the schema calls invalid refused. (The suite's own requests are checked against the
schema too: tests/openapi_conformance.py.) FUZZ_EXAMPLES sets the number of cases per operation and credential.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.notifications.conftest import notifications_world, world  # noqa: F401  (fixtures)

# Per operation and credential kind; CI keeps it small. Fewer without PostgreSQL (the first CI pass):
# SQLite stores whatever text the schema allows, PostgreSQL refuses some (NUL), so it is fuzzed harder.
EXAMPLES = int(
    os.environ.get("FUZZ_EXAMPLES", "15" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "10")
)

pytestmark = [pytest.mark.live]


def _api_schema() -> dict:
    """The schema the server serves (/api/v1/schema/), generated here: it is needed to collect the tests."""
    from drf_spectacular.generators import SchemaGenerator

    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


schema = schemathesis.openapi.from_dict(_api_schema())


@pytest.fixture
def credentials(world, api) -> dict[str, dict[str, str]]:
    """Headers of each credential kind, by the security scheme that names it in the schema."""
    token = api.get("user/apikeys/token", headers={"Api-Key": world.a.api_key_write}).json()["token"]
    return {
        "clientKey": world.a.client_headers(),
        "apiKey": {"Api-Key": world.a.api_key_write},
        "apiToken": {"Authorization": f"Bearer {token}"},
        "customerJWT": world.customer_headers("a", "alice"),
    }


@pytest.mark.parametrize("kind", ["clientKey", "apiKey", "apiToken", "customerJWT"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_generated_requests_get_documented_answers(case, kind, credentials, daphne_server):
    accepted = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
    if kind not in accepted:
        pytest.skip(f"{case.operation.label} does not take {kind}")
    # Every check but "schema-valid data is accepted": the schema states types, formats and limits, not
    # the rules between fields or against stored data (a time zone's name, quiet hours that start when
    # they end, a cursor from this endpoint, five keys per user), which the server refuses with a 400.
    try:
        case.call_and_validate(
            base_url=daphne_server.url, headers=credentials[kind], excluded_checks=[positive_data_acceptance]
        )
    except FailureGroup as failures:
        if not sent_as_valid(case, failures):
            raise


def sent_as_valid(case, failures: FailureGroup) -> bool:
    """Whether a "schema-violating request accepted" was in fact sent schema-valid: schemathesis counts a
    query key whose value is an empty list as an extra property, but no query string carries it, and the
    Authorization header it dropped is put back by ``credentials``. Only such cases are let through."""
    if not all(isinstance(failure, AcceptedNegativeData) for failure in failures.exceptions):
        return False
    query = case.query or {}
    unsent = {name for name, value in query.items() if value == []}
    documented = {parameter.name for parameter in case.operation.query}
    return bool(unsent) and set(query) - unsent <= documented
