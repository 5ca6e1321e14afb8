"""The API-key API over real HTTP (daphne): ``user``, ``user/apikeys``, ``Api-Key`` authentication."""

import uuid

import pytest

from credentials import services
from credentials.audit import CLI
from credentials.models import ApiKey
from tests.live import assert_error

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

SEED_403 = {
    "code": 403,
    "message": "API credentials are not supplied or not a valid format.",
    "invalid_authentication": True,
}


@pytest.fixture(params=["v2", "legacy"])
def any_key(request, api_key, legacy_key) -> str:
    """Both key formats: the 64-char key and an imported legacy 32-char key."""
    return api_key if request.param == "v2" else legacy_key


def test_user_with_either_key_format(api, api_user, any_key):
    response = api.get("user", headers={"Api-Key": any_key, "Api-Version": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["user_id"] == str(api_user.pk)
    assert body["email"] == api_user.email
    assert sorted(k["comment"] for k in body["api_keys"]) == ["fixture", "legacy"]
    assert set(body["api_keys"][0]) == {"id", "created", "accessed", "comment"}


def test_current_key_is_the_one_used(api, api_user, any_key):
    current = api.get("user/apikeys/current", headers={"Api-Key": any_key}).json()
    stored = ApiKey.objects.get(pk=current["id"])
    assert stored.comment == ("fixture" if len(any_key) == 64 else "legacy")
    assert set(current) == {"id", "created", "accessed", "comment"}
    # The use is recorded (at most once a minute).
    assert stored.last_used_at is not None


def test_list_add_and_delete_keys(api, api_user, api_key):
    headers = {"Api-Key": api_key}
    listed = api.get("user/apikeys", headers=headers)
    assert listed.headers["content-type"] == "application/json"
    assert [k["comment"] for k in listed.json()] == ["fixture"]

    # The rokka client sends its JSON body without a Content-Type.
    added = api.post("user/apikeys", headers=headers, content=b'{"comment": "ci"}')
    assert added.status_code == 201
    assert added.headers["content-type"] == "application/json"
    new = added.json()
    assert set(new) == {"id", "created", "accessed", "comment", "api_key"}
    assert new["comment"] == "ci" and new["accessed"] is None
    assert len(new["api_key"]) == 64 and new["api_key"][:32] == uuid.UUID(new["id"]).hex
    assert api.get("user/apikeys/current", headers={"Api-Key": new["api_key"]}).json()["id"] == new["id"]
    assert len(api.get("user/apikeys", headers=headers).json()) == 2
    # The plaintext is shown once: listing never includes it.
    assert all("api_key" not in k for k in api.get("user/apikeys", headers=headers).json())

    deleted = api.delete(f"user/apikeys/{new['id']}", headers=headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert [k["comment"] for k in api.get("user/apikeys", headers=headers).json()] == ["fixture"]
    assert api.get("user", headers={"Api-Key": new["api_key"]}).status_code == 403
    # Deleting it again, or an unknown id, is 404.
    assert_error(api.delete(f"user/apikeys/{new['id']}", headers=headers), 404, invalid_authentication=False)
    assert_error(api.delete("user/apikeys/not-a-uuid", headers=headers), 404, invalid_authentication=False)


def test_add_with_null_comment_and_the_five_key_limit(api, api_key):
    headers = {"Api-Key": api_key}
    for _ in range(4):
        response = api.post("user/apikeys", headers=headers, json={"comment": None})
        assert response.status_code == 201 and response.json()["comment"] == ""
    body = assert_error(api.post("user/apikeys", headers=headers, json={}), 400, invalid_authentication=False)
    assert "at most 5" in body["message"] or "at most 5" in str(body.get("details"))


def test_cannot_delete_someone_elses_key(api, api_key, workspace):
    other = services.api_user_create(actor=CLI, email=f"{uuid.uuid4().hex[:8]}@example.com")
    other_key, _ = services.api_key_create(actor=CLI, user=other)
    response = api.delete(f"user/apikeys/{other_key.pk}", headers={"Api-Key": api_key})
    assert_error(response, 404, invalid_authentication=False)
    other_key.refresh_from_db()
    assert other_key.revoked_at is None


def test_cannot_delete_the_key_in_use(api, api_key):
    current = api.get("user/apikeys/current", headers={"Api-Key": api_key}).json()
    response = api.delete(f"user/apikeys/{current['id']}", headers={"Api-Key": api_key})
    assert_error(response, 409, "api_key_in_use", invalid_authentication=False)
    assert api.get("user", headers={"Api-Key": api_key}).status_code == 200


def test_missing_credentials_is_the_seeds_403(api):
    response = api.get("user/apikeys", headers={"Api-Version": "1"})
    body = assert_error(response, 403, "credentials_missing", invalid_authentication=True)
    assert {k: v for k, v in body.items() if k != "reason"} == SEED_403
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize("bad", ["", "short", "x" * 64, "g" * 32 + "A" * 32, "!" * 32])
def test_malformed_key_is_the_seeds_403(api, bad):
    body = assert_error(
        api.get("user", headers={"Api-Key": bad}), 403, "api_key_malformed", invalid_authentication=True
    )
    assert {k: v for k, v in body.items() if k != "reason"} == SEED_403


def test_unknown_revoked_or_rotated_key_is_403(api, api_user, api_key):
    unknown = uuid.uuid4().hex + "A" * 32
    assert_error(api.get("user", headers={"Api-Key": unknown}), 403, "invalid_api_key", invalid_authentication=True)
    # Right id, wrong secret part.
    key = ApiKey.objects.get(user=api_user)
    forged = key.pk.hex + "B" * 32
    assert_error(api.get("user", headers={"Api-Key": forged}), 403, "invalid_api_key", invalid_authentication=True)

    new, new_plaintext = services.api_key_rotate(actor=CLI, api_key=key)
    assert_error(api.get("user", headers={"Api-Key": api_key}), 403, "invalid_api_key", invalid_authentication=True)
    assert api.get("user", headers={"Api-Key": new_plaintext}).status_code == 200
    services.api_key_revoke(actor=CLI, api_key=new)
    assert_error(
        api.get("user", headers={"Api-Key": new_plaintext}), 403, "invalid_api_key", invalid_authentication=True
    )


def test_inactive_user_key_is_403(api, api_user, api_key):
    api_user.is_active = False
    api_user.save(update_fields=["is_active"])
    assert_error(api.get("user", headers={"Api-Key": api_key}), 403, "invalid_api_key", invalid_authentication=True)


@pytest.mark.parametrize("version", ["2", "0", "v1", "latest"])
def test_other_api_version_is_400(api, api_key, version):
    response = api.get("user", headers={"Api-Key": api_key, "Api-Version": version})
    assert_error(response, 400, "unsupported_api_version", invalid_authentication=False)
    # Also without credentials: the version is checked first.
    assert_error(
        api.get("user", headers={"Api-Version": version}), 400, "unsupported_api_version", invalid_authentication=False
    )


def test_api_version_absent_or_1_is_fine(api, api_key):
    assert api.get("user", headers={"Api-Key": api_key}).status_code == 200
    assert api.get("user", headers={"Api-Key": api_key, "Api-Version": "1"}).status_code == 200


def test_api_key_wins_over_a_token(api, api_key, legacy_key):
    token = api.get("user/apikeys/token", headers={"Api-Key": legacy_key}).json()["token"]
    both = api.get("user/apikeys/current", headers={"Api-Key": api_key, "Authorization": f"Bearer {token}"})
    assert both.status_code == 200
    assert both.json()["comment"] == "fixture"  # the key's, not the token's (legacy) key
    # ... also when the key is bad: the key decides (403), the valid token is not consulted.
    bad = api.get("user", headers={"Api-Key": "x" * 32 + "!", "Authorization": f"Bearer {token}"})
    assert_error(bad, 403, invalid_authentication=True)


def test_errors_and_answers_are_json_without_charset(api, api_key):
    for response in (
        api.get("user", headers={"Api-Key": api_key}),
        api.get("user"),
        api.post("user/apikeys", headers={"Api-Key": api_key}, content=b"{not json"),
        api.put("user", headers={"Api-Key": api_key}),
    ):
        assert response.headers["content-type"] == "application/json"
    assert_error(
        api.post("user/apikeys", headers={"Api-Key": api_key}, content=b"{not json"), 400, invalid_authentication=False
    )
    assert_error(api.put("user", headers={"Api-Key": api_key}), 405, invalid_authentication=False)


@pytest.mark.parametrize(
    "raw",
    [b"[" * 50_000 + b"]" * 50_000, b'{"comment": "\\ud800"}', b"{", b"\xff\xfe", b'{"comment": "x", "n": 1e400}'],
    ids=["deeply-nested", "lone-surrogate", "truncated", "not-utf8", "infinite-number"],
)
@pytest.mark.parametrize("content_type", [None, "application/json"], ids=["no-content-type", "json"])
def test_malformed_bodies_are_400_never_500(api, api_key, raw, content_type):
    """The API-wide parser (authplatform/api.py): nothing a body holds can crash a view or the database."""
    headers = {"Api-Key": api_key, **({"Content-Type": content_type} if content_type else {})}
    response = api.post("user/apikeys", content=raw, headers=headers)
    assert_error(response, 400, "malformed_body", invalid_authentication=False)
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1
