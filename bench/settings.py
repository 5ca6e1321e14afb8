"""Django settings for the benchmark only: the project's own settings, plus the peer apps and URLs.

Every server in the benchmark (daphne for our rows, uvicorn for the python-socketio peer) and the
in-process verification row load this module, so the only difference between two rows of the table is
the endpoint they hit. Nothing here changes the project's settings or URLs for anyone else.
"""

import os
from datetime import timedelta

from authplatform.settings import *  # noqa: F401,F403
from authplatform.settings import INSTALLED_APPS, REST_FRAMEWORK  # noqa: F401

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "rest_framework_api_key",  # peer 1: djangorestframework-api-key (HasAPIKey); needs its table
    "rest_framework_simplejwt",  # peer 2: djangorestframework-simplejwt (JWTAuthentication)
]

if os.environ.get("BENCH_COUNT_QUERIES") == "1":  # the recovery row's servers: SQL statements counted
    INSTALLED_APPS.append("bench.querycount.QueryCountConfig")

ROOT_URLCONF = "bench.urls"

# simplejwt's defaults (HS256 with SECRET_KEY, user looked up by id on every request), but an access
# token that outlives a full `make bench` run (its default is 5 minutes).
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=2),
    "UPDATE_LAST_LOGIN": False,
}

# The in-process row times failed verifications one after another from one address: they must reach the
# verification, not a failed-authentication throttle. No HTTP row of the bench ever fails.
AUTHPLATFORM = {**AUTHPLATFORM, "AUTH_FAILURE_BURST": 10**9}  # noqa: F405
