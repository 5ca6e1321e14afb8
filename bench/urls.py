"""The project's URLs, plus ``/bench/<kind>``: the trivial endpoint once per authentication kind.

Kinds whose authentication class has not landed yet (tokens.authentication.ApiKeyAuthentication and
ApiTokenAuthentication) are simply absent; the bench reports those rows as not built yet.
"""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework_api_key.permissions import HasAPIKey
from rest_framework_simplejwt.authentication import JWTAuthentication

from authplatform.urls import handler500  # noqa: F401
from authplatform.urls import urlpatterns as project_urls
from bench.views import queries, trivial
from tokens import authentication as ours

KINDS = {
    "none": trivial("none", permission=[AllowAny]),
    "client": trivial("client", authentication=[ours.ClientCredentialsAuthentication]),
    "customer_jwt": trivial("customer_jwt", authentication=[ours.CustomerJWTAuthentication]),
    # Peers on the same server and endpoint, with their documented set-up.
    "peer_drf_api_key": trivial("peer_drf_api_key", permission=[HasAPIKey]),
    "peer_simplejwt": trivial("peer_simplejwt", authentication=[JWTAuthentication]),
}
for kind, class_name in (("api_key", "ApiKeyAuthentication"), ("api_token", "ApiTokenAuthentication")):
    cls = getattr(ours, class_name, None)
    if cls is not None:
        KINDS[kind] = trivial(kind, authentication=[cls])

urlpatterns = [
    *project_urls,
    *(path(f"bench/{kind}", view, name=f"bench-{kind}") for kind, view in KINDS.items()),
    path("bench/queries", queries, name="bench-queries"),
]
