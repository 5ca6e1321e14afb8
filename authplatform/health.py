"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from authplatform.bus import bus
from authplatform.errors import error_response

logger = logging.getLogger(__name__)
PROBE_TIMEOUT = 2.0


async def healthz(request):
    """The process is alive and serving."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def readyz(request):
    """The database and the channel layer answer; 503 with the error body when either does not."""
    failed = []
    try:
        await asyncio.wait_for(sync_to_async(_database_ok)(), PROBE_TIMEOUT)
    except Exception as exc:  # any failure means "not ready", whatever the driver raised
        logger.warning("readyz: database unreachable: %s", type(exc).__name__)
        failed.append("database")
    try:
        # The live bus (authplatform/bus.py): a PING to Redis, when it is used; reported under the
        # name the readiness contract gives it (docs/design.md: "database and channel layer").
        await asyncio.wait_for(bus.ping(), PROBE_TIMEOUT)
    except Exception as exc:
        logger.warning("readyz: channel layer unreachable: %s", type(exc).__name__)
        failed.append("channel_layer")
    if failed:
        return error_response(
            503, f"Not ready: {', '.join(failed)} unreachable.", "not_ready", details={"unreachable": failed}
        )
    return JsonResponse({"status": "ready", "database": "ok", "channel_layer": "ok"})
