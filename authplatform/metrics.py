"""Prometheus metrics at ``/metrics`` (prometheus_client): what the platform is doing, for operators.

- ``authplatform_http_requests_total{route, method, status}`` and
  ``authplatform_http_request_duration_seconds{route}``: every request, by URL pattern (``route`` is
  the pattern, e.g. ``api/v1/customer/inbox/<uuid:message_id>``, never a path with ids in it).
- ``authplatform_authentications_total{kind, outcome, reason}``: each credential presented to the
  HTTP API, by kind (client, api_key, api_token, customer_jwt), ``success``, ``refused`` (with its
  error reason) or ``throttled`` (the address was over its failure budget).

Live delivery (live/, notifications/, authplatform/layers.py and bus.py):

- ``authplatform_live_open_sockets``: sockets with a connected Socket.IO session (those live delivery
  reaches), a gauge: +1 when a CONNECT is accepted, -1 when the session ends or the socket closes.
- ``authplatform_sends_total`` and ``authplatform_inbox_items_stored_total``: send API calls that
  stored at least one inbox item, and the items they stored (an Idempotency-Key replay stores none).
- ``authplatform_live_events_total``: Socket.IO events handed to this process's sockets: each
  delivered ``live.frames`` message's frames times the sockets it went to (counted once per message,
  not per socket), and what a CONNECT answer is followed by (the replay, the unread count). A socket
  that already has a numbered message (it was replayed to it) skips it, and a message dropped for a
  full channel (``dropped_full`` below) was not handed over: both are counted all the same.
  ``sessionEnded`` is not counted.
- ``authplatform_live_fanout_seconds``: for each send, from its commit (when the announcer is handed
  the job) to the moment its publication has been handed to the last socket of this process it goes to
  (put in that socket's channel; the socket writes it on the same or the next turn of the event loop).
  One observation per process that has at least one of the send's recipients connected, so a send
  reaching sockets on three processes is three observations. It includes the announcer's queue, its
  reading of unread counts, Redis, and the wait for earlier numbers of the product space
  (authplatform/live_order.py). Wall-clock times: across hosts their clocks' difference is in it.
- ``authplatform_live_connects_total{outcome}``: accepted CONNECTs: ``recovered`` (connection state
  recovery replayed what the socket missed, live/recovery.py), ``fresh`` (the client asked for no
  recovery), ``not_recovered`` (it asked, with a pid, and was refused, e.g. past the window, or the
  state could not be read: a fresh session all the same, the client reads its inbox).
- ``authplatform_live_failures_total{kind}``: ``publish_failed`` (a publication that never reached
  Redis), ``pool_exhausted`` (one that failed because no pooled Redis connection came free in time;
  not also in ``publish_failed``), ``subscription_lost`` (a process lost its Redis subscription and
  closed its sockets), ``dropped_full`` (a message for a socket already holding 100 unread ones),
  ``order_skipped`` (a message number given up on after LIVE_ORDER_HOLD_MS), ``announcement_failed``
  (an announcement raised in the announcer thread). Each is also logged; the inbox holds what was lost.

The server process (authplatform/server.py):

- ``authplatform_gc_frozen_objects``: the objects a server process froze before serving (``gc.freeze``:
  modules, classes, settings, views; full garbage collections never walk them again), one series per
  running process (``pid`` label with PROMETHEUS_MULTIPROC_DIR). 0 means the freeze did not happen.

Labels never carry a customer id, a key or a secret: only kinds, reasons, outcomes, routes and statuses.

Several server processes: set ``PROMETHEUS_MULTIPROC_DIR`` to a directory all of them can write (empty
it before they start, as prometheus_client requires); every process then records into files there and
``/metrics`` on any process sums them, so a scrape through the load balancer sees the whole host.
Without it each process counts in memory and answers for itself (one process: the embedded default).
So every metric is a prometheus_client metric changed at the event, in the process where it happens:
a collector reading the counters kept in each process (``bus.stats``, ``layer.stats``) would only
ever show the process that answers the scrape, since the multiprocess collector reads the files alone.
Counters and histograms of a process that has exited stay in the sum (what happened, happened); the
open-sockets gauge is ``livesum``: only running processes count, since a process removes its own file
at exit and a scrape removes those of processes that are gone (killed without exiting). Processes
sharing the directory must therefore see each other's process ids (one host, one PID namespace).
The hot path pays per send, not per socket: a counter or histogram change is 1-2 µs in multiprocess
mode, and the layer counts a delivered message's events once for all its sockets.

Access: only from ``METRICS_ALLOWED`` addresses (default loopback), or with
``Authorization: Bearer <METRICS_TOKEN>`` when that is set; anyone else gets a 403 error body.
"""

from __future__ import annotations

import atexit
import glob
import hmac
import os
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.deprecation import MiddlewareMixin
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from authplatform.client_ip import client_ip
from authplatform.errors import error_response

REQUESTS = Counter("authplatform_http_requests", "HTTP requests answered.", ["route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "authplatform_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AUTHENTICATIONS = Counter(
    "authplatform_authentications",
    "Credentials presented to the HTTP API, by kind and outcome.",
    ["kind", "outcome", "reason"],
)


def authentication_count(*, kind: str, outcome: str, reason: str = "") -> None:
    AUTHENTICATIONS.labels(kind=kind, outcome=outcome, reason=reason).inc()


# --- the server process ------------------------------------------------------------------------------
FROZEN_OBJECTS = Gauge(
    "authplatform_gc_frozen_objects",
    "Objects the server process froze before serving (gc.freeze).",
    multiprocess_mode="liveall",
)

# --- live delivery (see the module docstring) ----------------------------------------------------------
OPEN_SOCKETS = Gauge(
    "authplatform_live_open_sockets",
    "Sockets with a connected Socket.IO session.",
    multiprocess_mode="livesum",
)
SENDS = Counter("authplatform_sends", "Send API calls that stored at least one inbox item.")
INBOX_ITEMS_STORED = Counter("authplatform_inbox_items_stored", "Inbox items stored by the send API.")
LIVE_EVENTS = Counter("authplatform_live_events", "Socket.IO events handed to sockets.")
FANOUT_SECONDS = Histogram(
    "authplatform_live_fanout_seconds",
    "Per process, from a send's commit to its publication handed to the last of the process's sockets it goes to.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CONNECT_OUTCOMES = ("recovered", "fresh", "not_recovered")
LIVE_CONNECTS = Counter("authplatform_live_connects", "Accepted Socket.IO CONNECTs, by recovery outcome.", ["outcome"])
FAILURE_KINDS = (
    "publish_failed",
    "pool_exhausted",
    "subscription_lost",
    "dropped_full",
    "order_skipped",
    "announcement_failed",
)
LIVE_FAILURES = Counter("authplatform_live_failures", "Live delivery failures, by kind.", ["kind"])
# Bound once: labels() per call costs as much again as the increment.
_CONNECTS = {outcome: LIVE_CONNECTS.labels(outcome=outcome) for outcome in CONNECT_OUTCOMES}
_FAILURES = {kind: LIVE_FAILURES.labels(kind=kind) for kind in FAILURE_KINDS}

COMMITTED_AT = "committed_at"
"""Key of the wall-clock time (``time.time()``) of a send's commit in the last message of its publication
(live/fanout.py puts it there; ``live_delivered`` reads it)."""


def send_count(*, items: int) -> None:
    """A send API call stored ``items`` inbox items (counted when at least one)."""
    if items > 0:
        SENDS.inc()
        INBOX_ITEMS_STORED.inc(items)


def live_failure_count(kind: str, count: int = 1) -> None:
    """``count`` live delivery failures of ``kind`` (one of FAILURE_KINDS). Never raises."""
    if count > 0:
        _FAILURES[kind].inc(count)


def live_connect_count(*, outcome: str, events: int) -> None:
    """An accepted CONNECT (``outcome`` one of CONNECT_OUTCOMES), followed by ``events`` events."""
    _CONNECTS[outcome].inc()
    if events:
        LIVE_EVENTS.inc(events)


def live_delivered(message: dict, count: int, delivered: int) -> None:
    """The layer handed ``message`` to ``count`` channels of this process; ``delivered`` channels so far
    for its whole publication. Once per message of a publication, never per socket."""
    if count:
        frames = message.get("frames")
        if frames:
            LIVE_EVENTS.inc(count * len(frames))
    committed_at = message.get(COMMITTED_AT)
    if committed_at is not None and delivered:
        FANOUT_SECONDS.observe(max(0.0, time.time() - committed_at))


def _forget_gone_processes(path: str) -> None:
    """Drop the live gauges (open sockets) of processes that are no longer running: one killed without
    exiting (SIGKILL, OOM) could not remove its own, and its sockets are long closed."""
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid = os.path.basename(name)[: -len(".db")].rsplit("_", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid), path)
        except OSError:
            pass  # running, as another user


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A process that exits takes its open sockets out of the sum (prometheus_client leaves this to the server).
    atexit.register(multiprocess.mark_process_dead, os.getpid())


class RequestMetricsMiddleware(MiddlewareMixin):
    """Counts and times every request by its URL pattern (known after routing, so ids never become labels)."""

    def process_request(self, request):
        request._metrics_started = time.perf_counter()

    def process_response(self, request, response):
        started = getattr(request, "_metrics_started", None)
        if started is not None:
            match = getattr(request, "resolver_match", None)
            route = match.route if match is not None else "unmatched"
            REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
            REQUEST_SECONDS.labels(route=route).observe(time.perf_counter() - started)
        return response


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    presented = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
        return True
    ip = client_ip(request)
    return ip is not None and any(ip in network for network in settings.METRICS_ALLOWED)


@require_GET
def metrics_view(request):
    if not _allowed(request):
        return error_response(
            403, "Metrics are served to METRICS_ALLOWED addresses or with METRICS_TOKEN only.", "permission_denied"
        )
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        _forget_gone_processes(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
