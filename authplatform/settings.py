"""Django settings. Every value comes from the environment; the defaults are for development.

Production: set DEBUG=0, SECRET_KEY, AUTHPLATFORM_PEPPER, AUTHPLATFORM_KEY_ENCRYPTION_KEY,
ALLOWED_HOSTS, DATABASE_URL and REDIS_URL (see docs/configuration.md).
"""

import ipaddress
import os
from pathlib import Path
from typing import Any

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from authplatform.env import DevSecrets, env_bool, env_int, env_list, random_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG", True)

_dev_secrets = DevSecrets(
    VAR_DIR / "dev-secrets.json",
    debug=DEBUG,
    generators={
        "SECRET_KEY": random_secret,
        "AUTHPLATFORM_PEPPER": random_secret,
        "AUTHPLATFORM_KEY_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
    },
)

SECRET_KEY = _dev_secrets.get("SECRET_KEY")
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves ASGI (HTTP + WebSocket)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "authplatform",
    "credentials",
    "tokens",
    "notifications",
    "live",
]

MIDDLEWARE = [
    "authplatform.request_log.RequestLogMiddleware",  # outermost: logs the answer as it leaves
    "authplatform.metrics.RequestMetricsMiddleware",  # counts it (authplatform/metrics.py)
    "authplatform.middleware.JSONErrorMiddleware",  # every error leaves as the JSON body
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "authplatform.urls"
ASGI_APPLICATION = "authplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 0),
    )
}
# Under ASGI every request (and every database_sync_to_async call) runs in a context, and a thread, of
# its own, so with CONN_MAX_AGE=0 each one opened a new connection (profiled: on PostgreSQL the biggest
# cost after the ORM; on SQLite a schema parse per request), and persistent connections would leak one
# per context (Django's docs). A pool per process hands each request an open connection and takes it
# back when Django closes it: Django's own for PostgreSQL (needs psycopg[pool]), authplatform/fastpaths/sqlite3
# for SQLite.
_POOLED_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
_database_pool = env_bool("DATABASE_POOL", True) and DATABASES["default"]["ENGINE"] in _POOLED_ENGINES
if _database_pool and DATABASES["default"].get("CONN_MAX_AGE"):
    raise ImproperlyConfigured("CONN_MAX_AGE must be 0 with DATABASE_POOL=1 (set DATABASE_POOL=0 to use it).")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # daphne's worker threads and the tests' live server write to the same file: wait for the
        # lock instead of failing, and take the write lock up front so it can't deadlock on upgrade.
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        # Write-ahead log: readers never wait for a writer, and a commit is one fsync of the log
        # instead of the rollback journal's several (measured 0.29 vs 1.23 ms on the bench machine).
        # synchronous stays FULL, so a commit that returned survives a power cut (a revocation too).
        "init_command": "PRAGMA journal_mode=WAL",
    }
    if _database_pool:
        DATABASES["default"]["ENGINE"] = "authplatform.fastpaths.sqlite3"
        DATABASES["default"]["OPTIONS"]["pool"] = {"max_size": env_int("DATABASE_POOL_MAX_SIZE", 20)}
        # Checkpoints (copying the log into the database file) in a thread of their own instead of
        # inside the commit that crosses 1,000 log pages (see authplatform/fastpaths/sqlite3/base.py).
        DATABASES["default"]["OPTIONS"]["checkpoint"] = {"interval": 0.25}
    # A file, not memory, so a live daphne server in another process sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
elif _database_pool:  # PostgreSQL
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
        # Per process; size processes x max_size below PostgreSQL's max_connections (default 100).
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20),
        "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),  # seconds a request waits for a connection
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "credentials.User"

# --- live delivery across processes ---------------------------------------------------------------
# One layer for both setups (authplatform/layers.py): groups kept in each process, each send one
# publication on the live bus (authplatform/bus.py) -- one Redis PUBLISH to every server process with
# REDIS_URL, handed to this process's event loop without it. Nothing about sockets is stored in Redis.
REDIS_URL = os.environ.get("REDIS_URL", "")
CHANNEL_LAYERS = {"default": {"BACKEND": "authplatform.layers.LiveChannelLayer", "CONFIG": {"redis_url": REDIS_URL}}}

# --- cache (failed-authentication throttle counters, tokens/throttle.py) ---------------------------
# Shared through Redis when REDIS_URL is set, so every server process counts the same failures;
# local memory (per process) otherwise. Short socket timeouts: a slow cache must not stall logins.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "authplatform",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth and passwords -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- the platform's own settings (read through authplatform.conf.platform_settings) -------------
AUTHPLATFORM: dict[str, Any] = {
    "PEPPER": _dev_secrets.get("AUTHPLATFORM_PEPPER"),
    "PEPPER_FALLBACKS": env_list("AUTHPLATFORM_PEPPER_FALLBACKS", []),
    "KEY_ENCRYPTION_KEY": _dev_secrets.get("AUTHPLATFORM_KEY_ENCRYPTION_KEY"),
    "KEY_ENCRYPTION_KEY_FALLBACKS": env_list("AUTHPLATFORM_KEY_ENCRYPTION_KEY_FALLBACKS", []),
    "TRUSTED_PROXIES": env_list("TRUSTED_PROXIES", []),
}
# Tunables that operators (and the tests' daphne processes) may set from the environment, under the
# same names; absent ones keep authplatform.conf's defaults.
ENV_TUNABLE_SETTINGS = (
    "AUTH_FAILURE_BURST",
    "AUTH_FAILURE_WINDOW",
    "ADMIN_LOGIN_FAILURE_BURST",
    "ADMIN_LOGIN_FAILURE_WINDOW",
    "SOCKETIO_PING_INTERVAL_MS",
    "SOCKETIO_PING_TIMEOUT_MS",
    "SOCKETIO_MAX_PAYLOAD_BYTES",
    "SOCKETIO_CONNECT_TIMEOUT_MS",
    "SOCKETIO_AUTH_TIMEOUT_MS",
    "SOCKETIO_KEY_RECHECK_MS",
    "LIVE_REDIS_MAX_CONNECTIONS",
    "LIVE_REDIS_TIMEOUT_MS",
    "LIVE_DELIVERY_BATCH",
    "LIVE_RECOVERY_WINDOW_SECONDS",
    "LIVE_RECOVERY_MAX_MESSAGES",
    "LIVE_ORDER_HOLD_MS",
    "INBOX_CLOCK_MS",
    "INBOX_RETENTION_DAYS",
    "INBOX_PURGE_INTERVAL_SECONDS",
)
for _name in ENV_TUNABLE_SETTINGS:
    if os.environ.get(_name):
        AUTHPLATFORM[_name] = env_int(_name, 0)

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["authplatform.api.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "authplatform.api.JSONBodyNegotiation",
    "DEFAULT_VERSIONING_CLASS": "tokens.authentication.ApiVersionHeaderVersioning",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "authplatform.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "authplatform.openapi.PlatformAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Auth platform API",
    "DESCRIPTION": "Credentials (client key + secret, API keys, API tokens, customer JWTs) and the in-app "
    "notification API. Errors share one body (the Error component). The live Socket.IO "
    "protocol is described as AsyncAPI at /api/v1/asyncapi.yaml.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "DEFAULT_GENERATOR_CLASS": "authplatform.openapi.PlatformSchemaGenerator",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: the docs pages work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # check --deploy generates the schema and lists what it cannot describe (it must stay clean).
    "ENABLE_DJANGO_DEPLOY_CHECK": True,
}

# --- i18n, static -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- security headers (HTTPS ones are switched on by SECURE_SSL=1 behind TLS) ---------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if env_bool("SECURE_SSL", False):
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    # HSTS covers the host's own subdomains too (for auth.example.com: *.auth.example.com), as
    # check --deploy expects (security.W005); SECURE_HSTS_INCLUDE_SUBDOMAINS=0 if one of them is plain HTTP.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Preloading is opt-in, so its reminder (security.W021) is silenced: the browsers' preload list takes
# only a registrable domain (example.com, not auth.example.com), binds every subdomain of it to HTTPS,
# and a removal takes months to reach browsers. That is the domain owner's decision, not a default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- logging: secrets never reach a log line; request bodies and auth headers are not logged ------
# /metrics (authplatform/metrics.py): loopback only unless METRICS_ALLOWED widens it, or a scraper sends
# Authorization: Bearer METRICS_TOKEN. Never public by default.
METRICS_ALLOWED = tuple(
    ipaddress.ip_network(item.strip(), strict=False)
    for item in os.environ.get("METRICS_ALLOWED", "127.0.0.0/8,::1/128").split(",")
    if item.strip()
)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# LOG_FORMAT=json: one JSON object per line (python-json-logger), the request id and the request log's
# fields as keys (authplatform/request_log.py); "text" (the default) stays readable on a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "without_traceback": {"()": "authplatform.log_filters.WithoutTraceback"},
        "request_id": {"()": "authplatform.request_log.RequestIdFilter"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"filters": ["without_traceback"]},
        # At DEBUG Django's template engine logs every variable it cannot resolve with the whole
        # context, which on a show-once page holds the secrets: never below INFO, whatever LOG_LEVEL.
        "django.template": {"level": "INFO"},
    },
}
