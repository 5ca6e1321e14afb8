"""Settings come from the environment with safe development defaults."""

import json
import os
import subprocess
import sys

from tests.live import ROOT

PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'secret': s.SECRET_KEY, 'pepper': s.AUTHPLATFORM['PEPPER'], 'debug': s.DEBUG, "
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'db': s.DATABASES['default']['ENGINE']}))"
)


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "AUTHPLATFORM_PEPPER",
                          "AUTHPLATFORM_KEY_ENCRYPTION_KEY", "VAR_DIR"}}
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "authplatform.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


def test_development_generates_secrets_once_and_reuses_them(tmp_path):
    first = run_settings({"VAR_DIR": str(tmp_path)})
    second = run_settings({"VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["debug"] is True
    assert len(a["secret"]) >= 50 and a["secret"] == b["secret"]
    assert a["pepper"] == b["pepper"] and a["pepper"] != a["secret"]
    secrets_file = tmp_path / "dev-secrets.json"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    # the embedded defaults: SQLite in var/ and the in-memory channel layer
    assert a["db"] == "django.db.backends.sqlite3"
    assert a["layer"] == "authplatform.layers.InMemoryChannelLayer"


def test_refuses_to_start_with_debug_off_and_no_secret_key(tmp_path):
    result = run_settings({"VAR_DIR": str(tmp_path), "DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "dev-secrets.json").exists()


def test_environment_values_win(tmp_path):
    result = run_settings({"VAR_DIR": str(tmp_path), "DEBUG": "0", "SECRET_KEY": "k" * 60,
                           "AUTHPLATFORM_PEPPER": "p" * 40, "AUTHPLATFORM_KEY_ENCRYPTION_KEY": "x",
                           "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["secret"] == "k" * 60 and values["pepper"] == "p" * 40 and values["debug"] is False
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"


def test_bad_boolean_is_a_clear_error(tmp_path):
    result = run_settings({"VAR_DIR": str(tmp_path), "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr
