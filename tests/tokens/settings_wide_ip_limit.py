"""Settings of a deployment whose operator raised the API-token address limit (the seed: "we can
adjust those values, if this is not enough for you"), so a token may be bound to 10.0.0.0/8.

Used as DJANGO_SETTINGS_MODULE of an extra daphne server in test_api_tokens_http.py.
"""

from authplatform.settings import *  # noqa: F401,F403
from authplatform.settings import AUTHPLATFORM

AUTHPLATFORM = {**AUTHPLATFORM, "API_TOKEN_MAX_IP_ADDRESSES": 2**24 + 2}
