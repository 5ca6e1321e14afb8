"""Property-based tests of every HTTP credential carrier and token option, against the real daphne server.

Carriers: ``Api-Key``, ``Api-Version``, ``Authorization: Bearer`` with an API token or a customer JWT
(header fields and claims fuzzed, signed with the real keys so the fuzz reaches the claim checks),
raw garbage in ``Authorization``, ``x-client-key``/``x-client-secret``, and the options of
``GET|POST user/apikeys/token`` (query string and JSON body). Requests go out through ``http.client``,
which sends any header byte but CR and LF (NUL and the like included), from one loopback address per
test. Properties, for every input:

- an answer, within BOUND seconds; never a 5xx;
- every 4xx is the one error body (DESIGN.md "Error body", ``tests.live.assert_error``'s rules);
  a refused credential (401/403 flagged ``invalid_authentication``, or 429) is the only kind of
  refusal that carries the flag, and every 401 carries ``WWW-Authenticate``;
- nothing is accepted that the documented rules refuse (each test states the rule it checks);
- no row changes, see ``assert_rows``: a refused request leaves every row of the credential tables
  (workspaces, product spaces, clients and secrets, users and memberships, API keys, signing keys,
  platform token keys) as it was, and adds or removes none. The one column a request may move is
  ``last_used_at`` of the credentials that authenticated it (the API key, client and secret, or
  signing key; for an API token its API key and the platform key that signed it), only forward, and
  only when the credentials were not refused. The audit log gains no success event from a refusal (a
  failure event would be allowed; none of these writes one) and no event holds a presented secret.
  Minting a token adds exactly one success event, ``api_token.issue`` (``.renew`` when a token asked),
  about that key. The failed-authentication counter is in the cache (tokens/throttle.py), not a
  table: it counts every refusal here, and the test servers' burst (tests/live.py) keeps it from
  answering 429.

Inputs tried per carrier, and the 5xx / non-JSON / unanswered ones seen, are printed at the end of the
module (``property summary`` lines). PROPERTY_EXAMPLES=<factor> runs more examples for a deeper search.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
import http.client
import ipaddress
import json
import math
import os
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

from authplatform.text import is_storable_text
from credentials import hashing, services
from credentials.audit import CLI
from credentials.models import (
    ApiKey,
    AuditEvent,
    Client,
    ClientSecret,
    CustomerSigningKey,
    Membership,
    PlatformTokenKey,
    ProductSpace,
    User,
    Workspace,
)
from tests.live import assert_error, random_loopback
from tokens.ip_rules import check_ip_allowed, check_ips_within, ip_option_items
from tokens.serializers import TokenOptionsSerializer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

BOUND = 5.0  # seconds: every request is answered within this
CUSTOMER_LEEWAY = 30  # tokens/customer_jwt.py
SLACK = 5  # seconds between building a token here and the server checking it

# Hypothesis keeps its example database and caches under the venv, never in the work tree.
HYPOTHESIS_HOME = (Path(sys.prefix) if sys.prefix != sys.base_prefix else Path(tempfile.gettempdir())) / "hypothesis"
set_hypothesis_home_dir(str(HYPOTHESIS_HOME))
SCALE = float(os.environ.get("PROPERTY_EXAMPLES", "1"))


def property_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
        database=DirectoryBasedExampleDatabase(str(HYPOTHESIS_HOME / "examples")),
        print_blob=True,
    )


# --- counting what was tried --------------------------------------------------------------------
@dataclass
class Tally:
    """What one carrier's inputs got: statuses (or close codes), and the answers breaking the contract."""

    tried: int = 0
    accepted: int = 0  # inputs whose credentials were accepted (counted by each test, which knows)
    outcomes: Counter = field(default_factory=Counter)
    server_errors: int = 0  # 5xx, or a socket closed as a server failure
    non_json: int = 0  # an error that is not the JSON error body (or a frame that is no packet)
    unanswered: int = 0  # no answer within BOUND
    slowest: float = 0.0

    def line(self, name: str) -> str:
        outcomes = ", ".join(f"{k}×{v}" for k, v in sorted(self.outcomes.items(), key=lambda kv: str(kv[0])))
        return (
            f"property summary: {name}: {self.tried} inputs, {self.accepted} accepted; 5xx/server errors "
            f"{self.server_errors}, non-JSON {self.non_json}, unanswered {self.unanswered}; "
            f"slowest {self.slowest:.2f} s; [{outcomes}]"
        )


TALLIES: dict[str, Tally] = {}
SENT_SECRETS: list[str] = []  # every key, secret and token the module's tests sent, for the log check


def tally(name: str) -> Tally:
    return TALLIES.setdefault(name, Tally())


class TallyReport:
    """A pytest plugin, registered by the first property module that runs: the summary lines at the
    end of the run's terminal output (outside output capture, so they show without -s)."""

    name = "property-tallies"

    def pytest_terminal_summary(self, terminalreporter):
        names = [name for name in TALLIES if name != "setup"]
        if names:
            terminalreporter.section("property tests: inputs per carrier")
            for name in names:
                terminalreporter.write_line(TALLIES[name].line(name))


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    plugins = request.config.pluginmanager
    if plugins.get_plugin(TallyReport.name) is None:
        plugins.register(TallyReport(), TallyReport.name)


# --- HTTP with any header bytes -----------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    raw: bytes
    elapsed: float

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    def json(self) -> Any:
        return json.loads(self.raw)

    # tests.live.assert_error reads these names off an httpx.Response
    @property
    def status_code(self) -> int:
        return self.status

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


class Caller:
    """Requests to the server's /api/v1/ from one loopback address, each on its own connection."""

    def __init__(self, server, source_ip: str | None = None) -> None:
        self.server = server
        self.source_ip = source_ip or random_loopback()

    def request(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str | bytes]] = (),
        body: bytes | None = None,
        *,
        carrier: str,
    ) -> Answer:
        record = tally(carrier)
        record.tried += 1
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.server.port, timeout=2 * BOUND, source_address=(self.source_ip, 0)
        )
        start = time.monotonic()
        try:
            connection.putrequest(method, f"/api/v1/{path}", skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, wire(value))
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read(), time.monotonic() - start)
        except (OSError, http.client.HTTPException) as exc:
            record.unanswered += 1
            raise AssertionError(f"no answer to {method} {path} within {2 * BOUND} s: {exc!r}") from None
        finally:
            connection.close()
        record.slowest = max(record.slowest, answer.elapsed)
        record.outcomes[answer.status] += 1
        if answer.status >= 500:
            record.server_errors += 1
        elif answer.status >= 400 and not is_error_body(answer):
            record.non_json += 1
        assert answer.status < 500, (answer.status, answer.text)
        assert answer.elapsed < BOUND, f"answered after {answer.elapsed:.1f} s"
        if answer.status >= 400:
            assert_error_shape(answer)
        elif answer.status != 204:
            assert answer.content_type == "application/json", answer.content_type
            answer.json()
        return answer


def note_accepted(carrier: str, accepted: bool) -> None:
    tally(carrier).accepted += bool(accepted)


def body_reason(answer: Answer) -> str | None:
    return answer.json().get("reason") if answer.status >= 400 else None


def is_error_body(answer: Answer) -> bool:
    if answer.content_type != "application/json":
        return False
    try:
        body = answer.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == answer.status


def assert_error_shape(answer: Answer) -> dict:
    """The one error body, with tests.live.assert_error's rules; the flag only on refused credentials."""
    assert answer.content_type == "application/json", (answer.status, answer.content_type, answer.raw[:200])
    body = answer.json()
    assert isinstance(body, dict), body
    flagged = "invalid_authentication" in body
    assert_error(answer, answer.status, invalid_authentication=flagged)
    assert isinstance(body["reason"], str) and body["reason"], body
    if flagged:
        assert answer.status in (401, 403, 429), body
    if answer.status == 401:
        assert flagged, body
        assert answer.headers.get("WWW-Authenticate"), answer.headers
    return body


def refused(answer: Answer) -> bool:
    """Whether the request's credentials were refused (or never counted: 429)."""
    if answer.status < 400:
        return False
    return answer.status == 429 or answer.json().get("invalid_authentication") is True


# --- what must not change -------------------------------------------------------------------------
CREDENTIAL_MODELS = (
    Workspace,
    ProductSpace,
    Client,
    ClientSecret,
    User,
    Membership,
    ApiKey,
    CustomerSigningKey,
    PlatformTokenKey,
)


@dataclass(frozen=True)
class Snapshot:
    rows: dict[tuple[str, str], dict[str, Any]]
    last_audit_id: int


def row_key(obj) -> tuple[str, str]:
    return obj._meta.label, str(obj.pk)


def snapshot() -> Snapshot:
    rows = {}
    for model in CREDENTIAL_MODELS:
        names = [f.attname for f in model._meta.concrete_fields]
        for values in model.objects.order_by().values_list(*names):
            row = dict(zip(names, values, strict=True))
            rows[(model._meta.label, str(row[model._meta.pk.attname]))] = row
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return Snapshot(rows, last)


def assert_rows(
    before: Snapshot,
    *,
    used: set[tuple[str, str]] = frozenset(),
    minted_for: ApiKey | None = None,
    renewed: bool = False,
    secrets: tuple[str, ...] = (),
) -> list[AuditEvent]:
    """Every credential row as ``before``, but ``last_used_at`` of ``used`` (forward only); the audit
    log gains exactly one success event when ``minted_for`` is given, none otherwise; no event holds
    one of ``secrets``. Returns the new events."""
    after = snapshot()
    assert after.rows.keys() == before.rows.keys(), (
        f"added {sorted(after.rows.keys() - before.rows.keys())}, "
        f"removed {sorted(before.rows.keys() - after.rows.keys())}"
    )
    for key, row in before.rows.items():
        new = after.rows[key]
        changed = {name for name in row if row[name] != new[name]}
        if key in used and "last_used_at" in changed:
            assert row["last_used_at"] is None or new["last_used_at"] > row["last_used_at"], (key, row, new)
            changed.discard("last_used_at")
        assert not changed, f"{key} changed: { ({n: (row[n], new[n]) for n in changed}) }"
    events = list(AuditEvent.objects.filter(id__gt=before.last_audit_id).order_by("id"))
    successes = [e for e in events if e.outcome == "success"]
    if minted_for is None:
        assert successes == [], [str(e) for e in successes]
    else:
        assert len(successes) == 1, [str(e) for e in successes]
        [event] = successes
        assert event.action == ("api_token.renew" if renewed else "api_token.issue"), event.action
        assert event.target_id == str(minted_for.pk)
    for event in events:
        text = json.dumps([event.actor_label, event.target_label, event.details], default=str)
        for secret in secrets:
            assert secret not in text, f"a secret in audit event {event.action}"
    return events


def assert_not_logged(server, *secrets: str) -> None:
    log = server.log_path.read_text(errors="replace") if server.log_path else ""
    for secret in secrets:
        assert secret not in log, "a secret reached the server log"


# --- the test's credentials -----------------------------------------------------------------------
@lru_cache(maxsize=1)
def rsa_keys() -> tuple:
    """Four RSA key pairs, made once: registering public halves is cheaper than generating per test."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(4))


def public_pem(private) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Credentials:
    """One workspace with everything a request can present, plus near misses."""

    workspace: Workspace
    product_spaces: list[str]
    api_key: ApiKey
    api_key_plain: str
    client: Client
    client_secret: str
    signing_key: CustomerSigningKey
    signing_private: Any
    other_workspace_code: str
    other_product_space: str
    other_key: CustomerSigningKey  # a registered key of another workspace
    other_private: Any
    revoked_key: CustomerSigningKey
    revoked_private: Any
    unregistered_private: Any
    platform_kid: str = ""
    platform_secret: bytes = b""

    @property
    def platform_row(self) -> tuple[str, str]:
        """The platform key's row: verifying an API token records its use too."""
        return PlatformTokenKey._meta.label, self.platform_kid

    def refs(self, caller: Caller) -> dict[str, Any]:
        net = ipaddress.ip_network(f"{caller.source_ip}/24", strict=False)
        return {
            "kid": str(self.signing_key.kid),
            "other_kid": str(self.other_key.kid),
            "revoked_kid": str(self.revoked_key.kid),
            "kid_upper": str(self.signing_key.kid).upper(),
            "kid_hex": self.signing_key.kid.hex,
            "kid_urn": self.signing_key.kid.urn,
            "workspace_code": self.workspace.code,
            "other_workspace_code": self.other_workspace_code,
            "product_space_code": self.product_spaces[0],
            "second_product_space_code": self.product_spaces[1],
            "other_product_space_code": self.other_product_space,
            "platform_kid": self.platform_kid,
            "key_id": str(self.api_key.pk),
            "key_hex": self.api_key.pk.hex,
            "source_ip": caller.source_ip,
            "source_net": str(net),
            "random_uuid": "0b0e6c8e-8d41-4a57-9f0a-3c4f5e6d7a8b",
        }

    def signer(self, name: str):
        """How a token is signed: a registered key, another key, or no real signature."""
        rsa_keys = {
            "key": self.signing_private,
            "other_key": self.other_private,
            "revoked_key": self.revoked_private,
            "unregistered_key": self.unregistered_private,
        }
        if name in rsa_keys:
            return lambda data: rsa_keys[name].sign(data, padding.PKCS1v15(), hashes.SHA256())
        if name == "platform_secret":
            return lambda data: hmac.new(self.platform_secret, data, hashlib.sha256).digest()
        if name == "hs256_public_pem":  # the classic algorithm-confusion forgery
            pem = self.signing_key.public_key_pem.encode()
            return lambda data: hmac.new(pem, data, hashlib.sha256).digest()
        if name == "wrong_secret":
            return lambda data: hmac.new(b"not the platform secret", data, hashlib.sha256).digest()
        if name == "empty":
            return lambda data: b""
        return lambda data: b"junk signature"


@pytest.fixture
def creds(workspace, api_user, daphne_server) -> Credentials:
    second = services.product_space_create(actor=CLI, workspace=workspace, name="Second")
    api_key, plain = services.api_key_create(actor=CLI, user=api_user, comment="properties")
    client, secret = services.client_create(actor=CLI, workspace=workspace, name="backend")
    private, revoked_private, other_private, unregistered_private = rsa_keys()
    key = services.signing_key_register(
        actor=CLI, workspace=workspace, public_key_pem=public_pem(private), name="properties"
    )
    revoked = services.signing_key_register(
        actor=CLI, workspace=workspace, public_key_pem=public_pem(revoked_private), name="revoked"
    )
    services.signing_key_revoke(actor=CLI, key=revoked, reason="properties")
    other = services.workspace_create(actor=CLI, name=f"other-{uuid.uuid4().hex[:10]}", product_space_name="Other")
    other_key = services.signing_key_register(actor=CLI, workspace=other, public_key_pem=public_pem(other_private))
    creds = Credentials(
        workspace=workspace,
        product_spaces=[workspace.product_spaces.exclude(pk=second.pk).get().code, second.code],
        api_key=api_key,
        api_key_plain=plain,
        client=client,
        client_secret=secret,
        signing_key=key,
        signing_private=private,
        other_workspace_code=other.code,
        other_product_space=other.product_spaces.get().code,
        other_key=other_key,
        other_private=other_private,
        revoked_key=revoked,
        revoked_private=revoked_private,
        unregistered_private=unregistered_private,
    )
    # The platform key that signs API tokens exists once the first token is minted.
    caller = Caller(daphne_server)
    answer = caller.request("GET", "user/apikeys/token", [("Api-Key", plain)], carrier="setup")
    assert answer.status == 200, answer.text
    creds.platform_kid = unverified_header(answer.json()["token"])["kid"]
    creds.platform_secret = hashing.decrypt_secret(PlatformTokenKey.objects.get(pk=creds.platform_kid).encrypted_secret)
    SENT_SECRETS.extend([plain, secret, answer.json()["token"]])
    return creds


@pytest.fixture
def caller(daphne_server) -> Caller:
    return Caller(daphne_server)


# --- values and tokens ----------------------------------------------------------------------------
ABSENT = "<absent>"  # a claim or header field left out


@dataclass(frozen=True)
class Ref:
    """A value known only once the test's credentials exist: a name in Credentials.refs, or a time
    ``offset`` seconds from the moment the token is built (``now``, ``now_float``, ``now_str``)."""

    name: str
    offset: int = 0


def resolve(value: Any, refs: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        if value.name == "now":
            return int(time.time()) + value.offset
        if value.name == "now_float":
            return time.time() + value.offset + 0.5
        if value.name == "now_str":
            return str(int(time.time()) + value.offset)
        return refs[value.name]
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, refs) for k, v in value.items() if v != ABSENT}
    return value


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact_jws(header: Any, payload: Any, sign) -> str:
    """A compact JWS of any JSON header and payload (PyJWT would refuse to write most of these)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def unverified_header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def same_uuid(value: Any, expected: str) -> bool:
    try:
        return uuid.UUID(str(value)) == uuid.UUID(expected)
    except (ValueError, TypeError, AttributeError):
        return False


# Any JSON value, lone surrogates (as \ud800 escapes), non-finite floats and big integers included.
any_text = st.text(st.characters(exclude_categories=()), max_size=12)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=16), any_text
)


def json_containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3))


json_values = st.recursive(json_scalars, json_containers, max_leaves=6)

time_values = st.one_of(
    st.builds(Ref, st.just("now"), st.sampled_from([-3600, -31, -29, 0, 29, 31, 600, 10**6])),
    st.builds(Ref, st.sampled_from(["now", "now_float", "now_str"]), st.integers(-(10**6), 10**6)),
    st.sampled_from(
        [
            0,
            -1,
            253402300799,
            253402300800,
            10**20,
            -(10**20),
            1e308,
            -1e308,
            math.inf,
            -math.inf,
            math.nan,
            True,
            False,
            "",
            "soon",
        ]
    ),
    json_values,
)


@st.composite
def mutated(draw, base: dict, choices: dict[str, st.SearchStrategy], *, changes: int) -> dict:
    """``base`` with ``changes`` of its fields changed or left out, and maybe unknown ones added."""
    result = dict(base)
    names = draw(st.lists(st.sampled_from(sorted(choices)), unique=True, min_size=changes, max_size=changes))
    for name in names:
        result[name] = ABSENT if draw(st.integers(0, 3)) == 0 else draw(choices[name])
    if changes:
        extra = draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in base), json_values, max_size=1))
        result.update(extra)
    return result


@st.composite
def token_recipes(draw, header: dict, header_choices: dict, claims: dict, claim_choices: dict, signers: list[str]):
    """Mostly one fault at a time (a header field, a claim, or the signature), so that each check is
    reached with everything else right; sometimes several at once. ``signers[0]`` is the right one."""
    fault = draw(st.sampled_from(["none", "claim", "claim", "claim", "header", "signer", "several"]))
    several = fault == "several"
    header = draw(
        mutated(header, header_choices, changes=1 if fault == "header" else draw(st.integers(0, 2)) if several else 0)
    )
    claims = draw(
        mutated(claims, claim_choices, changes=1 if fault == "claim" else draw(st.integers(0, 3)) if several else 0)
    )
    signer = (
        draw(st.sampled_from(signers[1:]))
        if fault == "signer"
        else (draw(st.sampled_from(signers)) if several else signers[0])
    )
    return TokenRecipe(header, claims, signer, fault == "none")


# Customer JWTs: the seed example's header and claims, each field fuzzed.
CUSTOMER_HEADER = {"alg": "RS256", "typ": "JWT", "kid": Ref("kid")}
CUSTOMER_CLAIMS = {
    "type": "customer",
    "workspace_id": Ref("workspace_code"),
    "product_space_code": Ref("product_space_code"),
    "sub": "CUST-1",
    "iat": Ref("now"),
    "exp": Ref("now", 600),
    "jti": "customer-CUST-1-1",
}
CUSTOMER_HEADER_CHOICES = {
    "alg": st.one_of(
        st.sampled_from(["RS256", "HS256", "none", "None", "NONE", "RS512", "ES256", "PS256", "rs256", ""]), json_values
    ),
    "typ": st.one_of(st.sampled_from(["JWT", "jwt", "at+jwt", ""]), json_values),
    "kid": st.one_of(
        st.builds(
            Ref,
            st.sampled_from(
                [
                    "kid",
                    "other_kid",
                    "revoked_kid",
                    "kid_upper",
                    "kid_hex",
                    "kid_urn",
                    "platform_kid",
                    "random_uuid",
                    "key_id",
                ]
            ),
        ),
        st.sampled_from(["", "../../etc/passwd", "\x00", "ab\x00cd", "' OR 1=1 --"]),
        json_values,
    ),
    "crit": st.one_of(st.sampled_from([["b64"], ["exp"], [], "b64", ["kid"], None, ["b64", "b64"]]), json_values),
    "b64": st.sampled_from([False, True, "false", 0]),
    "jku": st.sampled_from(["http://10.255.255.1/jwks.json", "http://127.0.0.1:1/", "file:///etc/passwd"]),
    "x5u": st.sampled_from(["http://10.255.255.1/cert.pem", "https://example.invalid/"]),
    "jwk": st.one_of(st.just({"kty": "oct", "k": "c2VjcmV0"}), json_values),
}
CUSTOMER_CLAIM_CHOICES = {
    "sub": st.one_of(
        st.sampled_from(["", "x" * 255, "x" * 256, "C\x001", "C\ud800", " ", "ü-1", "CUST-2"]), any_text, json_values
    ),
    "exp": time_values,
    "nbf": time_values,
    "iat": time_values,
    "type": st.one_of(st.sampled_from(["customer", "Customer", "admin", "api", ""]), json_values),
    "workspace_id": st.one_of(
        st.builds(Ref, st.sampled_from(["workspace_code", "other_workspace_code"])),
        st.sampled_from(["", "ABCDEFGH", "abcdefgh"]),
        json_values,
    ),
    "product_space_code": st.one_of(
        st.builds(
            Ref,
            st.sampled_from(
                ["product_space_code", "second_product_space_code", "other_product_space_code", "workspace_code"]
            ),
        ),
        st.sampled_from(["ABCD\x00EFG", "ABCDEFG\n", "abcdefgh", ""]),
        json_values,
    ),
    "jti": json_values,
    "aud": json_values,
    "iss": json_values,
}
CUSTOMER_SIGNERS = [
    "key",
    "other_key",
    "revoked_key",
    "unregistered_key",
    "hs256_public_pem",
    "platform_secret",
    "junk",
    "empty",
]


@dataclass
class BuiltToken:
    token: str
    header: Any
    claims: Any
    signer: str
    pristine: bool  # the unchanged base token, signed by its own key


def customer_tokens() -> st.SearchStrategy[TokenRecipe]:
    return token_recipes(
        CUSTOMER_HEADER, CUSTOMER_HEADER_CHOICES, CUSTOMER_CLAIMS, CUSTOMER_CLAIM_CHOICES, CUSTOMER_SIGNERS
    )


@dataclass(frozen=True)
class TokenRecipe:
    header: dict
    claims: dict
    signer: str
    pristine: bool

    def build(self, creds: Credentials, caller: Caller) -> BuiltToken:
        refs = creds.refs(caller)
        header, claims = resolve(self.header, refs), resolve(self.claims, refs)
        return BuiltToken(
            compact_jws(header, claims, creds.signer(self.signer)), header, claims, self.signer, self.pristine
        )


def customer_token_acceptable(token: BuiltToken, creds: Credentials) -> bool:
    """What DESIGN.md "Customer JWTs" requires, as necessary conditions (with SLACK for the clock)."""
    header, claims, now = token.header, token.claims, time.time()
    keys = {
        "key": (creds.signing_key, creds.workspace.code, creds.product_spaces),
        "other_key": (creds.other_key, creds.other_workspace_code, [creds.other_product_space]),
    }
    if token.signer not in keys or not isinstance(header, dict) or not isinstance(claims, dict):
        return False
    key, workspace_code, product_spaces = keys[token.signer]
    sub, exp = claims.get("sub"), claims.get("exp")
    return (
        header.get("alg") == "RS256"
        and same_uuid(header.get("kid"), str(key.kid))
        and claims.get("type") == "customer"
        and claims.get("workspace_id") == workspace_code
        and claims.get("product_space_code") in product_spaces
        and isinstance(sub, str)
        and 1 <= len(sub) <= 255
        and is_storable_text(sub)
        and numeric(exp)
        and now - CUSTOMER_LEEWAY - SLACK < exp < 253402300800
        and all(
            numeric(claims[n]) and claims[n] <= now + CUSTOMER_LEEWAY + SLACK for n in ("nbf", "iat") if n in claims
        )
    )


# API tokens: the payload the platform mints, each field fuzzed.
API_HEADER = {"alg": "HS256", "typ": "JWT", "kid": Ref("platform_kid")}
API_PAYLOAD = {"id": Ref("key_id"), "exp": Ref("now", 600), "expt": 600, "ips": [], "rn": True}
API_HEADER_CHOICES = {
    "alg": CUSTOMER_HEADER_CHOICES["alg"],
    "typ": CUSTOMER_HEADER_CHOICES["typ"],
    "kid": st.one_of(
        st.builds(Ref, st.sampled_from(["platform_kid", "kid", "key_id", "random_uuid"])),
        st.sampled_from(["", "\x00", "ab\x00cd", "x" * 40, "pk_does_not_exist"]),
        json_values,
    ),
    "crit": CUSTOMER_HEADER_CHOICES["crit"],
    "b64": CUSTOMER_HEADER_CHOICES["b64"],
    "jku": CUSTOMER_HEADER_CHOICES["jku"],
}
ip_lists = st.one_of(
    st.sampled_from(
        [
            [],
            [Ref("source_ip")],
            [Ref("source_net")],
            ["0.0.0.0/0"],
            ["::/0"],
            ["10.0.0.0/8"],
            ["request_ip"],
            ["not an ip"],
            ["127.0.0.1/33"],
            [1],
            "127.0.0.0/8",
            [Ref("source_ip"), "zzz"],
        ]
    ),
    st.lists(st.ip_addresses().map(str), max_size=3),
    json_values,
)
API_PAYLOAD_CHOICES = {
    "id": st.one_of(
        st.builds(Ref, st.sampled_from(["key_id", "key_hex", "kid", "random_uuid"])),
        st.sampled_from(["", "not-a-uuid", "\x00"]),
        json_values,
    ),
    "exp": time_values,
    "expt": st.one_of(st.sampled_from([600, 0, -1, 10**20, 600.0, "600", True]), json_values),
    "ips": ip_lists,
    "rn": st.one_of(st.sampled_from([True, False, 1, 0, "true"]), json_values),
}
API_SIGNERS = ["platform_secret", "wrong_secret", "key", "hs256_public_pem", "junk", "empty"]


def api_tokens() -> st.SearchStrategy[TokenRecipe]:
    return token_recipes(API_HEADER, API_HEADER_CHOICES, API_PAYLOAD, API_PAYLOAD_CHOICES, API_SIGNERS)


def api_token_acceptable(token: BuiltToken, creds: Credentials, caller: Caller) -> bool:
    """tokens/api_tokens.py's rules as necessary conditions: signed with the platform key as its
    header says, exactly the five claims, for this API key, unexpired, usable from the caller's IP."""
    header, payload = token.header, token.claims
    if token.signer != "platform_secret" or not isinstance(header, dict) or not isinstance(payload, dict):
        return False
    ips = payload.get("ips")
    return (
        header.get("alg") == "HS256"
        and header.get("kid") == creds.platform_kid
        and set(payload) == {"id", "exp", "expt", "ips", "rn"}
        and same_uuid(payload["id"], str(creds.api_key.pk))
        and isinstance(payload["exp"], int)
        and not isinstance(payload["exp"], bool)
        and payload["exp"] > time.time() - SLACK
        and isinstance(ips, list)
        and all(isinstance(ip, str) for ip in ips)
        and check_ip_allowed(ipaddress.ip_address(caller.source_ip), ips)
    )


# Header values: anything a client can put on the wire but CR and LF (which would end the header).
header_bytes = st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
header_text = st.text(st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"), max_size=80)


def as_served(value: str | bytes) -> str:
    """A header value as the application reads it (Django decodes header bytes as Latin-1), after
    Twisted stripped the spaces and tabs around it."""
    return wire(value).decode("latin-1").strip(" \t")


# Header value bytes refused before the application (RFC 9110 5.5): NUL by Twisted, these by daphne.
REFUSED_HEADER_BYTES = frozenset(b"\x00\x0b\x0c\x1c\x1d\x1e\x85")


def malformed_http(values) -> bool:
    """Whether the server refuses the request as malformed HTTP (400 ``malformed_request``)."""
    return any(REFUSED_HEADER_BYTES.intersection(wire(v)) for v in values if v is not None)


def wire(value: str | bytes) -> bytes:
    """What goes on the wire: Latin-1 where it can be, else UTF-8 (as a careless client sends it)."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


GET_ENDPOINTS = [
    "user",
    "user/apikeys",
    "user/apikeys/current",
    "customer/me",
    "workspaces/{code}",
    "workspaces/{code}/memberships",
    "in-app-messages/0b0e6c8e-8d41-4a57-9f0a-3c4f5e6d7a8b",
]


def endpoint(template: str, creds: Credentials) -> str:
    return template.format(code=creds.workspace.code)


# --- Api-Key ------------------------------------------------------------------------------------------
@st.composite
def api_key_values(draw) -> tuple[list[bytes | str], str]:
    """One or two Api-Key header values, derived from the real key or not; and how they were made."""
    how = draw(
        st.sampled_from(
            [
                "real",
                "padded",
                "flipped",
                "truncated",
                "extended",
                "case",
                "v2_shaped",
                "legacy_shaped",
                "text",
                "bytes",
                "twice",
            ]
        )
    )
    return how, draw(st.integers(0, 63)), draw(header_text), draw(header_bytes)


def api_key_header_values(recipe, real: str) -> list[str | bytes]:
    how, position, text, raw = recipe
    if how == "real":
        return [real]
    if how == "padded":
        return [f"{text[:3]}{real}{text[-3:]}" if text else f" {real}\t"]
    if how == "flipped":
        c = real[position]
        return [real[:position] + ("0" if c != "0" else "1") + real[position + 1 :]]
    if how == "truncated":
        return [real[:position]]
    if how == "extended":
        return [real + (text or "x")]
    if how == "case":
        return [real.swapcase()]
    if how == "v2_shaped":
        return [uuid.uuid4().hex + hashing.random_base62(32)]
    if how == "legacy_shaped":
        return [hashing.random_base62(32)]
    if how == "text":
        return [text]
    if how == "twice":
        return [real, real]
    return [raw]


@given(
    recipe=api_key_values(),
    path=st.sampled_from(GET_ENDPOINTS),
    name=st.sampled_from(["Api-Key", "api-key", "API-KEY"]),
)
@property_settings(60)
def test_api_key_header(caller, creds, daphne_server, recipe, path, name):
    """An Api-Key is accepted exactly when it is the key (whitespace around it aside); any other value
    is a 403 with the flag, on every endpoint that reads it."""
    values = api_key_header_values(recipe, creds.api_key_plain)
    before = snapshot()
    answer = caller.request("GET", endpoint(path, creds), [(name, v) for v in values], carrier="Api-Key")
    is_key = ",".join(as_served(v) for v in values).strip() == creds.api_key_plain  # the class strips it
    if malformed_http(values):
        assert_error(answer, 400, "malformed_request")
    elif path == "customer/me":  # takes customer JWTs only: an API key is never enough
        assert refused(answer) and answer.status == 401, answer.text
    elif is_key:
        assert not refused(answer), answer.text
    else:
        body = assert_error(answer, 403, invalid_authentication=True)  # the seed's status for a bad key
        assert body["reason"] in ("api_key_malformed", "invalid_api_key"), body
    accepted = answer.status < 400 or not refused(answer) and body_reason(answer) != "malformed_request"
    note_accepted("Api-Key", accepted)
    assert_rows(before, used={row_key(creds.api_key)} if accepted else set(), secrets=(creds.api_key_plain,))


# --- Api-Version ------------------------------------------------------------------------------------
version_values = st.one_of(
    st.sampled_from(
        ["1", " 1 ", "1\t", "1.0", "2", "0", "v1", "01", "", "1,1", "\x001", "1\x00", "１", "1\x85", "1\xa0"]
    ),
    header_text,
    header_bytes,
)


@given(
    versions=st.lists(version_values, max_size=2),
    by=st.sampled_from(["key", "token"]),
    path=st.sampled_from(["user", "user/apikeys/current", "workspaces/{code}"]),
)
@property_settings(40)
def test_api_version_header(caller, creds, versions, by, path):
    """Api-Version absent or 1 (whitespace aside) is served; anything else is a 400 that is not a
    refusal of the credentials, before they are even looked at."""
    if by == "key":
        auth = [("Api-Key", creds.api_key_plain)]
    else:
        token = caller.request("GET", "user/apikeys/token", [("Api-Key", creds.api_key_plain)], carrier="setup").json()[
            "token"
        ]
        auth = [("Authorization", f"Bearer {token}")]
    before = snapshot()
    answer = caller.request(
        "GET", endpoint(path, creds), [*auth, *[("Api-Version", v) for v in versions]], carrier="Api-Version"
    )
    seen = ",".join(as_served(v) for v in versions) if versions else None
    if malformed_http(versions):
        assert_error(answer, 400, "malformed_request")
        used = set()
    elif seen is None or seen.strip() == "1":
        assert answer.status == 200, answer.text
        used = {row_key(creds.api_key)} | ({creds.platform_row} if by == "token" else set())
        note_accepted("Api-Version", True)
    else:
        assert_error(answer, 400, "unsupported_api_version")
        used = set()
    assert_rows(before, used=used, secrets=(creds.api_key_plain,))


# --- Authorization: Bearer <API token> ------------------------------------------------------------------
@given(recipe=api_tokens(), path=st.sampled_from(GET_ENDPOINTS))
@property_settings(100)
def test_bearer_api_token(caller, creds, recipe, path):
    """An API token is accepted only when the platform signed exactly the seed's payload for this key,
    it has not expired and the caller's address is allowed; the pristine token is accepted."""
    token = recipe.build(creds, caller)
    before = snapshot()
    answer = caller.request(
        "GET", endpoint(path, creds), [("Authorization", f"Bearer {token.token}")], carrier="Bearer API token"
    )
    accepted = not refused(answer)
    note_accepted("Bearer API token", accepted)
    if accepted:
        assert path != "customer/me", answer.text
        assert api_token_acceptable(token, creds, caller), (answer.status, answer.text, token)
    if recipe.pristine and path != "customer/me":
        assert accepted, answer.text
    assert_rows(
        before, used={row_key(creds.api_key), creds.platform_row} if accepted else set(), secrets=(creds.api_key_plain,)
    )


# --- Authorization: Bearer <customer JWT> ------------------------------------------------------------
@given(
    recipe=customer_tokens(),
    path=st.sampled_from(["customer/me", "customer/me", "customer/inbox/unread-count", "user", "workspaces/{code}"]),
)
@property_settings(90)
def test_bearer_customer_jwt(caller, creds, recipe, path):
    """A customer JWT is accepted only when a registered, active key of its workspace signed it with the
    key's algorithm, with the seed's claims (type, workspace, product space, sub, unexpired); the
    pristine token is accepted and speaks for its sub."""
    token = recipe.build(creds, caller)
    before = snapshot()
    answer = caller.request(
        "GET", endpoint(path, creds), [("Authorization", f"Bearer {token.token}")], carrier="Bearer customer JWT"
    )
    accepted = not refused(answer)
    note_accepted("Bearer customer JWT", accepted)
    if accepted:
        assert path.startswith("customer/"), answer.text
        assert customer_token_acceptable(token, creds), (answer.status, answer.text, token)
        if path == "customer/me":
            body = answer.json()
            assert body["customer_id"] == token.claims["sub"]
            assert body["product_space_code"] == token.claims["product_space_code"]
            assert same_uuid(body["signing_key_id"], token.header["kid"])
    if recipe.pristine and path.startswith("customer/"):
        assert accepted, answer.text
    used = {row_key(creds.signing_key), row_key(creds.other_key)} if accepted else set()
    assert_rows(before, used=used)


# --- Authorization: garbage --------------------------------------------------------------------------------
b64url_junk = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.+/"), max_size=120
)
authorization_values = st.one_of(
    st.builds(
        lambda scheme, token: f"{scheme}{token}",
        st.sampled_from(["Bearer ", "bearer ", "BEARER ", "Bearer  ", "Bearer\t", "Bearer", "Basic ", "Token ", ""]),
        st.one_of(b64url_junk, header_text),
    ),
    st.builds(lambda a, b: f"Bearer {a} {b}", b64url_junk, b64url_junk),
    st.builds(lambda n: "Bearer " + "e30." * n + "e30", st.integers(0, 5)),
    st.builds(lambda n: "Bearer " + "A" * n, st.sampled_from([8191, 8192, 8193, 9000, 16000])),
    header_text,
    header_bytes,
)


@given(value=authorization_values, path=st.sampled_from(GET_ENDPOINTS))
@property_settings(40)
def test_bearer_garbage(caller, creds, value, path):
    """Whatever else the Authorization header holds, nothing is accepted and nothing changes."""
    before = snapshot()
    answer = caller.request("GET", endpoint(path, creds), [("Authorization", value)], carrier="Authorization garbage")
    if malformed_http([value]):
        assert_error(answer, 400, "malformed_request")
    else:
        assert refused(answer), answer.text
    assert_rows(before)


# --- x-client-key / x-client-secret ------------------------------------------------------------------
@st.composite
def client_header_values(draw):
    """Each header: the real value, a near miss, missing, empty, or junk; each pair as likely."""

    def one(real_name: str, real: bool):
        if real:
            return real_name
        return draw(
            st.one_of(
                st.sampled_from(
                    [f"padded:{real_name}", f"flipped:{real_name}", f"truncated:{real_name}", "absent", "empty"]
                ),
                header_text,
                header_bytes,
            )
        )

    key_real, secret_real = draw(st.sampled_from([(True, True), (True, False), (False, True), (False, False)]))
    return one("key", key_real), one("secret", secret_real), draw(st.integers(0, 30))


def client_value(choice, real: str, position: int):
    if choice in ("key", "secret"):
        return real
    if choice in ("padded:key", "padded:secret"):
        return f" {real}\t"
    if choice in ("flipped:key", "flipped:secret"):
        i = position % len(real)
        return real[:i] + ("A" if real[i] != "A" else "B") + real[i + 1 :]
    if choice in ("truncated:key", "truncated:secret"):
        return real[: position % len(real)]
    if choice == "absent":
        return None
    if choice == "empty":
        return ""
    return choice


@given(
    values=client_header_values(),
    path=st.sampled_from(
        ["workspaces/{code}", "in-app-messages", "in-app-messages/0b0e6c8e-8d41-4a57-9f0a-3c4f5e6d7a8b"]
    ),
)
@property_settings(60)
def test_client_credentials_headers(caller, creds, values, path):
    """Client credentials are accepted exactly when both headers hold the client's key and secret;
    anything else (one missing, empty, a near miss, junk) is a 401 with the flag."""
    key_choice, secret_choice, position = values
    key = client_value(key_choice, creds.client.client_key, position)
    secret = client_value(secret_choice, creds.client_secret, position)
    headers = [(n, v) for n, v in (("x-client-key", key), ("x-client-secret", secret)) if v is not None]
    before = snapshot()
    method = "POST" if path == "in-app-messages" else "GET"
    body = b"{}" if method == "POST" else None  # a send without fields: a 400 once authenticated, nothing stored
    answer = caller.request(method, endpoint(path, creds), headers, body, carrier="x-client-key/x-client-secret")
    good = (
        key is not None
        and secret is not None
        and as_served(key) == creds.client.client_key
        and as_served(secret) == creds.client_secret
    )
    if malformed_http([key, secret]):
        assert_error(answer, 400, "malformed_request")
    elif good:
        assert not refused(answer), answer.text
        note_accepted("x-client-key/x-client-secret", True)
    else:
        assert refused(answer) and answer.status in (401, 429), answer.text
    secret_row = ClientSecret.objects.get(client=creds.client)
    assert_rows(
        before, used={row_key(creds.client), row_key(secret_row)} if good else set(), secrets=(creds.client_secret,)
    )


# --- user/apikeys/token options ------------------------------------------------------------------------
OPTIONS = ["expires_in", "renewable", "no_ip_protection", "ips"]
ip_items = st.one_of(
    st.sampled_from(
        [
            "request_ip",
            "127.0.0.1",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "::/0",
            "::1",
            "::ffff:127.0.0.1",
            "[::1]",
            "1.2.3.4/33",
            "1.2.3.4/24",
            "fe80::1%eth0",
            "",
            " ",
            "999.1.1.1",
            "1.2.3.4/-1",
            "2001:db8::/32",
            "127.0.0.0/8",
            "10.0.0.0/16",
            "ab\x00cd",
        ]
    ),
    st.ip_addresses().map(str),
    st.text(max_size=12),
)
bool_values = st.one_of(
    st.sampled_from([True, False, "true", "false", "1", "0", "yes", "no", "", None, 1, 0, 2, "TRUE", "on", "null"]),
    json_values,
)
option_values = {
    "expires_in": st.one_of(
        st.integers(-10, 400 * 86400),
        st.sampled_from(
            [
                0,
                1,
                60,
                86400,
                365 * 86400,
                365 * 86400 + 1,
                2**63,
                -(2**63),
                10**30,
                "60",
                " 60 ",
                "60.0",
                "6e1",
                "0x10",
                "",
                "abc",
                1.5,
                60.0,
                True,
                None,
                [],
                {},
                "60\x00",
                "٦٠",
            ]
        ),
        json_values,
    ),
    "renewable": bool_values,
    "no_ip_protection": bool_values,
    "ips": st.one_of(st.lists(ip_items, max_size=12).map(",".join), st.lists(ip_items, max_size=12), json_values),
}
option_dicts = st.fixed_dictionaries({}, optional={**option_values, "other": json_values})
# Options as a client means them (valid alone, some conflicting or too wide together): most mint.
plausible_ips = st.lists(
    st.sampled_from(
        ["request_ip", "127.0.0.0/24", "10.1.2.0/24", "192.168.0.0/28", "::1", "2001:db8::/120", "127.0.0.1"]
    ),
    min_size=1,
    max_size=3,
)
plausible_options = st.fixed_dictionaries(
    {},
    optional={
        "expires_in": st.one_of(st.integers(1, 365 * 86400), st.integers(1, 10**6).map(str)),
        "renewable": st.sampled_from([True, False, "true", "false", "1", "0"]),
        "no_ip_protection": st.sampled_from([True, False, "true", "false"]),
        "ips": st.one_of(plausible_ips.map(",".join), plausible_ips),
    },
)
query_strings = st.one_of(
    st.just(""),
    plausible_options.map(
        lambda d: urllib.parse.urlencode(
            {
                k: v if isinstance(v, str) else ",".join(v) if isinstance(v, list) else json.dumps(v)
                for k, v in d.items()
            }
        )
    ),
    option_dicts.map(
        lambda d: urllib.parse.urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in d.items()})
    ),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),  # raw, not even well encoded
    st.sampled_from(
        [
            "expires_in=%zz",
            "ips=%ff%fe",
            "expires_in=1&expires_in=2",
            "&&==&",
            "ips=request_ip,%00",
            "expires_in=60&ips=1.2.3.4&no_ip_protection=true",
        ]
    ),
)
bodies = st.one_of(
    st.none(),
    plausible_options.map(lambda d: json.dumps(d).encode()),
    option_dicts.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
    st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b'{"expires_in": NaN}',
            b'{"expires_in": 1e400}',
            b'{"ips": "\\ud800"}',
            b"[" * 5000 + b"]" * 5000,
            b'{"expires_in": 60, "expires_in": "x"}',
            b"\xef\xbb\xbf{}",
            b'{"ips": ["request_ip", null]}',
        ]
    ),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=no-such-charset",
        "garbage",
    ]
)


@pytest.fixture
def minting_tokens(caller, creds) -> dict[str, dict]:
    """API tokens to ask for renewals with: {kind: {"token", "payload"}} (renewable, not, not IP-bound)."""
    tokens = {}
    for kind, query in (
        ("renewable token", "expires_in=3600"),
        ("fixed token", "renewable=false"),
        ("open token", "no_ip_protection=true&renewable=true&expires_in=7200"),
    ):
        answer = caller.request(
            "GET", f"user/apikeys/token?{query}", [("Api-Key", creds.api_key_plain)], carrier="setup"
        )
        assert answer.status == 200, answer.text
        tokens[kind] = answer.json()
        SENT_SECRETS.append(tokens[kind]["token"])
    return tokens


def request_encoding(content_type: str | None) -> str:
    """Django's request.encoding: the Content-Type's charset when Python knows it, else UTF-8. It
    decodes the query string and the JSON body alike."""
    charset = None
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip()
    try:
        return codecs.lookup(charset).name if charset else "utf-8"
    except LookupError:
        return "utf-8"


def options_as_read(query: str, body: bytes | None, content_type: str | None) -> dict | None:
    """The options the view reads: the query string, and over it the JSON object in the body, if any.
    None when there is a body and it is not a JSON object (no JSON at all, or null, a list, ...)."""
    encoding = request_encoding(content_type)
    merged = dict(urllib.parse.parse_qsl(query, keep_blank_values=True, encoding=encoding))
    if body:
        try:
            data = json.loads(body.decode(encoding), parse_constant=lambda name: 1 / 0)
        except (ValueError, RecursionError, ZeroDivisionError):
            return None
        if not isinstance(data, dict):
            return None
        merged.update(data)
    return merged


@given(
    method=st.sampled_from(["GET", "POST"]),
    query=query_strings,
    body=bodies,
    content_type=content_types,
    by=st.sampled_from(["API key", "renewable token", "fixed token", "open token"]),
)
@example(method="POST", query="", body=b'[{"expires_in": 60}]', content_type="application/json", by="API key")
@example(method="GET", query="expires_in=60", body=b"null", content_type=None, by="renewable token")
@property_settings(100)
def test_token_minting_options(caller, creds, minting_tokens, method, query, body, content_type, by):
    """``user/apikeys/token`` with any options: a 200 mints exactly what tokens/services.py's rules say
    for those options (and audits it once); anything else is a 400 (options, a body that is not a JSON
    object) or a 403 (a renewal that is not allowed), never a refusal of the good credentials, and
    stores nothing."""
    renewing = None
    if by == "API key":
        auth = ("Api-Key", creds.api_key_plain)
    else:
        auth = ("Authorization", f"Bearer {minting_tokens[by]['token']}")
        renewing = minting_tokens[by]["payload"]
    headers = [auth] + ([("Content-Type", content_type)] if content_type else [])
    used = {row_key(creds.api_key)} | ({creds.platform_row} if renewing is not None else set())
    before = snapshot()
    started = time.time()
    path = "user/apikeys/token" + (f"?{query}" if query else "")
    answer = caller.request(method, path, headers, body, carrier="token options")
    assert not refused(answer), answer.text  # the credentials are good: options never refuse them
    if answer.status != 200:
        assert answer.status in (400, 403), answer.text
        if answer.status == 403:
            assert renewing is not None, answer.text
        assert_rows(before, used=used, secrets=(creds.api_key_plain,))
        return
    note_accepted("token options", True)
    minted = answer.json()
    payload = minted["payload"]
    assert_rows(
        before,
        used=used,
        minted_for=creds.api_key,
        renewed=renewing is not None,
        secrets=(creds.api_key_plain, minted["token"]),
    )
    # What was minted follows from the options as the view read them.
    raw = options_as_read(query, body, content_type)
    assert raw is not None, "a body that is not a JSON object was accepted (and its options ignored)"
    parsed = TokenOptionsSerializer(data=raw)
    assert parsed.is_valid(), (raw, parsed.errors)
    options = parsed.validated_data
    assert payload["id"] == str(creds.api_key.pk)
    if renewing is not None:
        assert renewing["rn"] is True, "a token that is not renewable was renewed"
        assert check_ips_within(payload["ips"], renewing["ips"]), (payload["ips"], renewing["ips"])
    lifetime = options.get("expires_in", renewing["expt"] if renewing else 86400)
    assert (
        payload["expt"] == lifetime
        and 1 <= lifetime <= 365 * 86400
        and (renewing is None or lifetime <= renewing["expt"])
    )
    assert started + lifetime - SLACK <= payload["exp"] <= time.time() + lifetime + SLACK
    rules = ip_option_items(options.get("ips"))  # an empty 'ips' (or empty items) holds no rules
    if options.get("no_ip_protection"):
        assert payload["ips"] == []
    elif rules or renewing is None or "no_ip_protection" in options:
        assert payload["ips"], "an IP-protected token without rules"  # the rules, or request_ip by default
    else:
        assert payload["ips"] == renewing["ips"]  # a renewal without IP options keeps the token's rules
    expected_rn = (
        options["renewable"]
        if "renewable" in options
        else (renewing["rn"] if renewing is not None else bool(payload["ips"]))
    )
    assert payload["rn"] is expected_rn, (options, payload)
    assert jwt_payload(minted["token"]) == payload
    if lifetime <= SLACK:
        return  # may have expired by now: NumericDates are whole seconds
    # And the token works from here exactly when its rules allow this address.
    use = caller.request(
        "GET", "user/apikeys/current", [("Authorization", f"Bearer {minted['token']}")], carrier="setup"
    )
    if check_ip_allowed(ipaddress.ip_address(caller.source_ip), payload["ips"]):
        assert use.status == 200 and use.json()["id"] == str(creds.api_key.pk), use.text
    else:
        assert_error(use, 401, "ip_not_allowed", invalid_authentication=True)


def jwt_payload(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def test_secrets_never_reach_the_server_log(daphne_server):
    """Last in the module: the server's log of everything the properties sent holds none of the keys,
    secrets and tokens they used (garbage and near misses are not secrets, and may be logged)."""
    if not SENT_SECRETS:
        pytest.skip("checks what the property tests above sent; none ran")
    time.sleep(0.2)
    assert_not_logged(daphne_server, *SENT_SECRETS)
