"""The trivial endpoint, once per authentication kind (bench/urls.py).

Every variant returns the same tiny JSON body and differs only in its authentication and permission
classes, so a throughput difference between two rows is the cost of authenticating.
"""

from django.http import JsonResponse
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

BODY = {"ok": True}


class Trivial(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(BODY)


def trivial(name: str, authentication=(), permission=(IsAuthenticated,)):
    """A Trivial subclass with the given DRF classes."""
    return type(
        f"Trivial_{name}",
        (Trivial,),
        {
            "authentication_classes": list(authentication),
            "permission_classes": list(permission),
        },
    ).as_view()


def queries(request):
    """``GET /bench/queries``: the SQL statements this process has run so far (bench/querycount.py), by
    statement; empty unless the server was started with ``BENCH_COUNT_QUERIES=1``. Runs none itself."""
    from bench import querycount

    return JsonResponse({"statements": querycount.snapshot()})
