"""Settings come from the environment with safe development defaults."""

import json
import os
import subprocess
import sys

from tests.conftest import first_pass_only
from tests.live import ROOT

# Settings read in subprocesses with their own environment: the same in both CI passes.
pytestmark = [first_pass_only]

PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'secret': s.SECRET_KEY, 'pepper': s.AUTHPLATFORM['PEPPER'], 'debug': s.DEBUG, "
    "'bus': type(__import__('authplatform.bus').bus.bus).__name__, 'db': s.DATABASES['default']['ENGINE']}))"
)


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "DEBUG",
            "DATABASE_URL",
            "REDIS_URL",
            "AUTHPLATFORM_PEPPER",
            "AUTHPLATFORM_KEY_ENCRYPTION_KEY",
            "VAR_DIR",
        }
    }
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "authplatform.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
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
    # the embedded defaults: SQLite in var/ and live delivery within the process
    assert a["db"] == "authplatform.fastpaths.sqlite3"  # SQLite with its connections pooled (test_sqlite_pool.py)
    assert a["bus"] == "InProcessBus"


def test_refuses_to_start_with_debug_off_and_no_secret_key(tmp_path):
    result = run_settings({"VAR_DIR": str(tmp_path), "DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "dev-secrets.json").exists()


def test_environment_values_win(tmp_path):
    result = run_settings(
        {
            "VAR_DIR": str(tmp_path),
            "DEBUG": "0",
            "SECRET_KEY": "k" * 60,
            "AUTHPLATFORM_PEPPER": "p" * 40,
            "AUTHPLATFORM_KEY_ENCRYPTION_KEY": "x",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["secret"] == "k" * 60 and values["pepper"] == "p" * 40 and values["debug"] is False
    assert values["bus"] == "RedisBus"


def test_bad_boolean_is_a_clear_error(tmp_path):
    result = run_settings({"VAR_DIR": str(tmp_path), "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


PRINT_DATABASE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "d = s.DATABASES['default']; print(json.dumps({'pool': d.get('OPTIONS', {}).get('pool'), "
    "'conn_max_age': d['CONN_MAX_AGE']}))"
)


def run_database_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CONN_MAX_AGE"))}
    return subprocess.run(
        [sys.executable, "-c", PRINT_DATABASE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "authplatform.settings", **env},
    )


def test_postgresql_uses_a_connection_pool_sized_from_the_environment(tmp_path):
    """Under ASGI each request has its own context: without a pool each one opened a new connection."""
    url = "postgres://user@127.0.0.1:5432/db"
    result = run_database_settings({"VAR_DIR": str(tmp_path), "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"pool": {"min_size": 2, "max_size": 20, "timeout": 10}, "conn_max_age": 0}
    sized = run_database_settings({"VAR_DIR": str(tmp_path), "DATABASE_URL": url, "DATABASE_POOL_MAX_SIZE": "5"})
    assert json.loads(sized.stdout)["pool"]["max_size"] == 5
    off = run_database_settings(
        {"VAR_DIR": str(tmp_path), "DATABASE_URL": url, "DATABASE_POOL": "0", "CONN_MAX_AGE": "60"}
    )
    assert json.loads(off.stdout) == {"pool": None, "conn_max_age": 60}
    both = run_database_settings({"VAR_DIR": str(tmp_path), "DATABASE_URL": url, "CONN_MAX_AGE": "60"})
    assert both.returncode != 0 and "CONN_MAX_AGE must be 0 with DATABASE_POOL=1" in both.stderr


def test_sqlite_pools_its_connections_and_writes_ahead(tmp_path):
    """SQLite gets the same switch and size as PostgreSQL (authplatform/fastpaths/sqlite3/base.py)."""
    print_sqlite = PRINT_DATABASE.replace(
        "'conn_max_age'", "'engine': d['ENGINE'], 'init': d['OPTIONS'].get('init_command'), 'conn_max_age'"
    )

    def run(env):
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CONN_MAX_AGE"))}
        return subprocess.run(
            [sys.executable, "-c", print_sqlite],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**clean, "DJANGO_SETTINGS_MODULE": "authplatform.settings", "VAR_DIR": str(tmp_path), **env},
        )

    pooled = json.loads(run({}).stdout)
    assert pooled == {
        "pool": {"max_size": 20},
        "engine": "authplatform.fastpaths.sqlite3",
        "init": "PRAGMA journal_mode=WAL",
        "conn_max_age": 0,
    }
    assert json.loads(run({"DATABASE_POOL_MAX_SIZE": "3"}).stdout)["pool"] == {"max_size": 3}
    off = json.loads(run({"DATABASE_POOL": "0", "CONN_MAX_AGE": "60"}).stdout)
    assert off["pool"] is None and off["engine"] == "django.db.backends.sqlite3" and off["conn_max_age"] == 60
    both = run({"CONN_MAX_AGE": "60"})
    assert both.returncode != 0 and "CONN_MAX_AGE must be 0 with DATABASE_POOL=1" in both.stderr


def test_the_pool_driver_is_installed():
    import psycopg_pool  # noqa: F401  (psycopg[pool]: Django's pool option needs it)


def test_test_servers_log_under_var_dir_not_the_repository(tmp_path, settings, django_db_setup):
    """With VAR_DIR elsewhere (a read-only checkout, CI's scratch disk) nothing is written to the repo's var/."""
    from tests.live import LiveServer

    settings.VAR_DIR = tmp_path
    server = LiveServer().start()
    try:
        assert server.log_path.parent == tmp_path / "test-logs" and server.log_path.exists()
    finally:
        server.stop()
