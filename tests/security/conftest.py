"""Stored credentials for the security tests: the same fixtures as the tokens tests."""

from tests.tokens.conftest import api_key, api_user, workspace  # noqa: F401
