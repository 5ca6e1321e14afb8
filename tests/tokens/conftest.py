"""Fixtures for the tokens tests: stored credentials. The HTTP clients (``client_from``, ``api``: each
from its own loopback address) come from tests/conftest.py."""

from __future__ import annotations

import uuid

import pytest

from credentials import hashing, services
from credentials.audit import CLI


@pytest.fixture
def workspace(transactional_db):
    return services.workspace_create(actor=CLI, name=f"ws-{uuid.uuid4().hex[:12]}", product_space_name="Main")


@pytest.fixture
def api_user(workspace):
    return services.api_user_create(
        actor=CLI, email=f"{uuid.uuid4().hex[:12]}@example.com", workspace=workspace, role="write"
    )


@pytest.fixture
def api_key(api_user) -> str:
    """A 64-char key (plaintext) of ``api_user``."""
    return services.api_key_create(actor=CLI, user=api_user, comment="fixture")[1]


@pytest.fixture
def legacy_key(api_user) -> str:
    """An imported legacy 32-char key (plaintext) of ``api_user``."""
    key = hashing.random_base62(32)
    services.api_key_import_legacy(actor=CLI, user=api_user, key=key, comment="legacy")
    return key
