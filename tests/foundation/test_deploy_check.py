"""`manage.py check --deploy` under the production environment the docs document (docs/deployment.md,
docs/configuration.md): clean behind TLS (SECURE_SSL=1); over plain HTTP only the HTTPS warnings.

Each run is a fresh process with only that environment (nothing inherited from the test run), so the
settings are read exactly as a production process reads them. The check connects to nothing: the
database and Redis addresses only have to parse.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet

from tests.live import ROOT

# Django's warnings for a site served over plain HTTP: what SECURE_SSL=1 switches on.
HTTP_ONLY_WARNINGS = {
    "security.W004",  # SECURE_HSTS_SECONDS unset
    "security.W008",  # SECURE_SSL_REDIRECT not True
    "security.W012",  # SESSION_COOKIE_SECURE not True
    "security.W016",  # CSRF_COOKIE_SECURE not True
}
CHECK_ID = re.compile(r"^\S+: \(([\w.]+\.[A-Z]\d+)\) ", re.MULTILINE)


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    return {
        **{name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUTHPLATFORM_PEPPER": secrets.token_urlsafe(50),
        "AUTHPLATFORM_KEY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "auth.example.com",
        "DATABASE_URL": "postgres://authplatform:secret@db.internal:5432/authplatform",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "VAR_DIR": str(tmp_path),  # nothing written into the checkout's var/
        **extra,
    }


def deploy_check(env: dict[str, str]) -> tuple[subprocess.CompletedProcess, set[str]]:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, set(CHECK_ID.findall(result.stdout + result.stderr))


def test_check_deploy_is_clean_behind_tls(tmp_path):
    result, found = deploy_check(production_env(tmp_path, SECURE_SSL="1"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not found, output
    assert "WARNING" not in output.upper() and "ERROR" not in output.upper(), output
    assert "System check identified no issues" in result.stdout, output


def test_check_deploy_over_plain_http_names_only_the_https_settings(tmp_path):
    result, found = deploy_check(production_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # --fail-level WARNING
    assert found == HTTP_ONLY_WARNINGS, output
