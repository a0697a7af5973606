"""Operating the app: liveness, readiness, Prometheus metrics, and one log line per request.

- `GET /healthz`: 200 `{"status": "ok"}` whenever the process can answer. It touches nothing
  else, so a database outage never gets healthy workers restarted.
- `GET /readyz`: 200 `{"status": "ok"}` when the event store answers a query, else 503 with
  `{"status": "unavailable", "reason": ...}`; the reason names no host, user or password (the
  log line beside it says what failed). It answers within POSTGRES_CONNECT_TIMEOUT (5 s).
- `GET /metrics`: the Prometheus text format (web.metrics). Open by default, as exporters
  usually are: it holds counts, route templates and link ids, nothing secret. Set
  LEANPLAN_METRICS_TOKEN to require `Authorization: Bearer <token>` (Prometheus'
  `authorization` scrape setting), for when the port is reachable by more than the scraper.
  Either way the public TLS proxy should not route it.

None of them needs a user. Every request gets an id: a well-formed `X-Request-ID` from the
client or a proxy, else a new one. It is echoed in the response and attached to every log line
written while handling the request (web.logs), ending with the request's own line: method,
route template, status and duration; probes and scrapes log theirs at DEBUG.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass

from eventsourcing.persistence import PersistenceError
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from adapters.probe import last_notification_id
from domain.application import Leanplan
from web.logs import bind_request_id, unbind_request_id
from web.metrics import (
    UNMATCHED,
    StoreMetrics,
    count_appended_events,
    exposition,
    observe_request,
)

log = logging.getLogger(__name__)
request_log = logging.getLogger(f"{__name__}.requests")

METRICS_TOKEN_ENV = "LEANPLAN_METRICS_TOKEN"
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""What a proxy's id looks like (UUIDs, hex, dotted); anything else could forge log content."""
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_NO_STORE = {"Cache-Control": "no-store"}

blueprint = Blueprint("ops", __name__)


@dataclass(frozen=True)
class _Ops:
    store_metrics: StoreMetrics
    metrics_token: str


def init_app(app: Flask) -> None:
    """Serve the probes and metrics and log every request; call before other request hooks, so
    every request is timed and carries its id from the start."""
    leanplan: Leanplan = app.extensions["leanplan"]
    count_appended_events(leanplan)
    token = app.config.get(METRICS_TOKEN_ENV) or os.environ.get(METRICS_TOKEN_ENV, "")
    app.extensions["leanplan_ops"] = _Ops(StoreMetrics(leanplan), token.strip())
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.register_blueprint(blueprint)


def _ops() -> _Ops:
    ops: _Ops = current_app.extensions["leanplan_ops"]
    return ops


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int, dict[str, str]]:
    """Say the process is alive."""
    return jsonify(status="ok"), 200, _NO_STORE


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]]:
    """Say whether the event store answers, so a balancer sends requests only when it does."""
    try:
        last_notification_id(current_app.extensions["leanplan"])
    except PersistenceError as error:
        log.warning("not ready: the event store did not answer: %s", error)
        reason = f"the event store does not answer ({type(error).__name__})"
        return jsonify(status="unavailable", reason=reason), 503, _NO_STORE
    return jsonify(status="ok"), 200, _NO_STORE


@blueprint.get("/metrics")
def metrics() -> Response:
    """Show the metrics in Prometheus' text format."""
    expected = _ops().metrics_token
    if expected and not _bearer_matches(expected):
        return Response(
            "metrics need Authorization: Bearer <LEANPLAN_METRICS_TOKEN>\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"', **_NO_STORE},
            mimetype="text/plain",
        )
    return Response(
        exposition(_ops().store_metrics), 200, _NO_STORE, content_type=CONTENT_TYPE_PLAIN_0_0_4
    )


def _bearer_matches(expected: str) -> bool:
    credentials = request.authorization
    given = credentials.token if credentials and credentials.type == "bearer" else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _start() -> None:
    g.ops_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.ops_binding = bind_request_id(g.request_id)


def _finish(response: Response) -> Response:
    seconds = time.perf_counter() - g.ops_started
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    status = response.status_code
    observe_request(request.method, route, status, seconds)
    response.headers[REQUEST_ID_HEADER] = g.request_id
    level = (
        logging.ERROR if status >= 500 else logging.DEBUG if route in QUIET_ROUTES else logging.INFO
    )
    duration_ms = round(seconds * 1000, 1)
    request_log.log(
        level,
        "%s %s %d in %.1f ms",
        request.method,
        route,
        status,
        duration_ms,
        extra={"method": request.method, "route": route, "status": status,
               "duration_ms": duration_ms},
    )  # fmt: skip
    return response


def _end(error: BaseException | None) -> None:
    binding = g.pop("ops_binding", None)
    if binding is not None:
        unbind_request_id(binding)
