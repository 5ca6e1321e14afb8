"""Shared fixtures of the notification API tests: two workspaces with credentials of every kind, and
customer JWTs minted by the seed's TypeScript example (real ``jsonwebtoken``, tests/js).

Minting with Node costs a process start per token, so tokens are minted once per test module
(``notifications_world``). The credentials they need are created once per module through
credentials.services; ``transactional_db`` empties the database after every test, so ``world``
puts those very rows (same codes, kid, digests) back before each test that needs them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from django.db import models

from credentials import services
from credentials.audit import CLI
from credentials.models import (
    ApiKey,
    Client,
    ClientSecret,
    CustomerSigningKey,
    Membership,
    ProductSpace,
    User,
    Workspace,
)
from tests.live import assert_error, run_node

SIGN_SCRIPT = "sign_customer_jwt.mjs"  # the seed's example, unchanged (tests/js)


@dataclass
class Tenant:
    """One workspace with two product spaces, a client, a signing key and API users."""

    workspace: Workspace
    product_spaces: list[ProductSpace]
    client_key: str
    client_secret: str
    signing_key: CustomerSigningKey
    private_pem: str
    api_key_write: str
    api_key_read: str

    @property
    def code(self) -> str:
        return self.product_spaces[0].code

    def client_headers(self) -> dict[str, str]:
        return {"x-client-key": self.client_key, "x-client-secret": self.client_secret}

    def customer_env(self, customer_id: str, product_space: int = 0, **extra: str) -> dict[str, str]:
        """The seed's CUSTOMER_* variables, the private key on one line with \\n escapes."""
        return {
            "CUSTOMER_JWT_PRIVATE_KEY": self.private_pem.strip().replace("\n", "\\n"),
            "CUSTOMER_SIGNING_KEY_ID": str(self.signing_key.kid),
            "CUSTOMER_UNIQUE_CUSTOMER_ID": customer_id,
            "CUSTOMER_WORKSPACE_ID": self.workspace.code,
            "CUSTOMER_PRODUCT_SPACE_CODE": self.product_spaces[product_space].code,
            **extra,
        }


@dataclass
class World:
    a: Tenant
    b: Tenant
    rows: list[models.Model] = field(default_factory=list)
    tokens: dict[tuple[str, int, str], str] = field(default_factory=dict)

    def token(self, tenant: str, customer_id: str, product_space: int = 0) -> str:
        return self.tokens[(tenant, product_space, customer_id)]

    def customer_headers(self, tenant: str, customer_id: str, product_space: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant, customer_id, product_space)}"}


# The customers every module gets a token for: (tenant, product space index, customer id).
CUSTOMERS = [
    ("a", 0, "alice"),
    ("a", 0, "bob"),
    ("a", 1, "alice"),  # the same sub in another product space of the same workspace
    ("b", 0, "alice"),  # the same sub in another workspace
]


def mint_customer_token(env: dict[str, str]) -> str:
    return run_node(SIGN_SCRIPT, env=env)["token"]


def _tenant(label: str) -> Tenant:
    suffix = uuid.uuid4().hex[:10]
    workspace = services.workspace_create(actor=CLI, name=f"rt-{label}-{suffix}", product_space_name="Main")
    second = services.product_space_create(actor=CLI, workspace=workspace, name="Second")
    client, client_secret = services.client_create(actor=CLI, workspace=workspace, name=f"backend {label}")
    signing_key, private_pem = services.signing_key_generate(actor=CLI, workspace=workspace, name="tests")
    writer = services.api_user_create(
        actor=CLI, email=f"writer-{suffix}@example.com", workspace=workspace, role="write"
    )
    reader = services.api_user_create(actor=CLI, email=f"reader-{suffix}@example.com", workspace=workspace, role="read")
    return Tenant(
        workspace=workspace,
        product_spaces=[workspace.product_spaces.order_by("created_at", "id").first(), second],
        client_key=client.client_key,
        client_secret=client_secret,
        signing_key=signing_key,
        private_pem=private_pem,
        api_key_write=services.api_key_create(actor=CLI, user=writer)[1],
        api_key_read=services.api_key_create(actor=CLI, user=reader)[1],
    )


def _snapshot(workspaces: list[Workspace]) -> list[models.Model]:
    """The stored credential rows of ``workspaces``, parents first, to put back after a flush."""
    users = User.objects.filter(memberships__workspace__in=workspaces).distinct()
    return [
        *Workspace.objects.filter(pk__in=[w.pk for w in workspaces]),
        *ProductSpace.objects.filter(workspace__in=workspaces),
        *Client.objects.filter(workspace__in=workspaces),
        *ClientSecret.objects.filter(client__workspace__in=workspaces),
        *CustomerSigningKey.objects.filter(workspace__in=workspaces),
        *users,
        *Membership.objects.filter(workspace__in=workspaces),
        *ApiKey.objects.filter(user__in=users),
    ]


def _restore(rows: list[models.Model]) -> None:
    for row in rows:
        type(row).objects.bulk_create([row])


@pytest.fixture(scope="module")
def notifications_world(django_db_setup, django_db_blocker) -> World:
    with django_db_blocker.unblock():
        world = World(a=_tenant("a"), b=_tenant("b"))
        world.rows = _snapshot([world.a.workspace, world.b.workspace])
    for tenant_name, product_space, customer_id in CUSTOMERS:
        tenant = getattr(world, tenant_name)
        world.tokens[(tenant_name, product_space, customer_id)] = mint_customer_token(
            tenant.customer_env(customer_id, product_space, CUSTOMER_JWT_EXPIRES_IN="1h")
        )
    yield world
    with django_db_blocker.unblock():
        # Whatever the last test left: the module's workspaces and users go (cascading to the rest).
        Workspace.objects.filter(pk__in=[world.a.workspace.pk, world.b.workspace.pk]).delete()
        User.objects.filter(pk__in=[r.pk for r in world.rows if isinstance(r, User)]).delete()


@pytest.fixture
def world(notifications_world, transactional_db) -> World:
    """The module's tenants, present in the (per test emptied) database."""
    if not Workspace.objects.filter(pk=notifications_world.a.workspace.pk).exists():
        _restore(notifications_world.rows)
    return notifications_world


def assert_invalid(response: httpx.Response, *path: str | int) -> list[str]:
    """A 400 with per-field ``details`` at ``path`` (keys as the client sent them); returns the messages."""
    body = assert_error(response, 400)
    node = body.get("details")
    for part in path:
        assert isinstance(node, dict) and str(part) in node, (path, body)
        node = node[str(part)]
    assert isinstance(node, list) and node and all(isinstance(m, str) for m in node), (path, body)
    return node


def message_payload(tenant: Tenant, recipients: list[str], **overrides) -> dict:
    payload = {
        "product_space_code": tenant.code,
        "recipients": recipients,
        "title": "Your invoice is ready",
        "body": "Invoice 2024-001 is ready to download.",
        "category": "billing",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not ...}


def send(
    api: httpx.Client, tenant: Tenant, recipients: list[str], *, headers: dict | None = None, **overrides
) -> httpx.Response:
    """POST in-app-messages with the tenant's client credentials (or ``headers``)."""
    return api.post(
        "in-app-messages",
        json=message_payload(tenant, recipients, **overrides),
        headers=headers if headers is not None else tenant.client_headers(),
    )


def send_ok(api: httpx.Client, tenant: Tenant, recipients: list[str], **overrides) -> dict:
    response = send(api, tenant, recipients, **overrides)
    assert response.status_code == 202, response.text
    return response.json()
