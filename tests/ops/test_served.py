"""`leanplan serve` for real (gunicorn, two workers): metrics add up across the workers, every
log line is one JSON object with the request's id, and no secret reaches the output."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters.bootstrap import open_leanplan
from adapters.credentials import register_user
from tests.caldav.support import free_port
from tests.ops.support import Scrape, Served

pytestmark = pytest.mark.slow

OPENAPI = "/api/v1/openapi.json"
WORKERS_SECONDS = 30
SECRET_KEY = "served-ops-test-secret-key-0123456789-abcdefghijklmnop"


@dataclass(frozen=True)
class Store:
    url: str
    token: str
    password: str
    last_id: int
    """The newest notification before the server started."""


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A SQLite store with one user, who has an API token and a password."""
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    password = f"pw-{secrets.token_urlsafe(12)}"
    leanplan = open_leanplan(url)
    try:
        token = register_user(
            leanplan, "ann", email="ann@example.org", actor="test", password=password
        )
        last_id = leanplan.recorder.max_notification_id() or 0
    finally:
        leanplan.close()
    return Store(url, token, password, last_id)


@pytest.fixture
def serve(tmp_path: Path, store: Store) -> Iterator[Callable[..., Served]]:
    """Starts `leanplan serve` with two workers (and more settings); stops it by PID."""
    started: list[Served] = []

    def start(**environ: str) -> Served:
        server = Served(
            tmp_path,
            {
                "DATABASE_URL": store.url,
                "WEB_CONCURRENCY": "2",
                "LEANPLAN_SECRET_KEY": SECRET_KEY,
                **environ,
            },
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.strip()]


def _bearer(store: Store) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.token}", "Content-Type": "application/json"}


def test_metrics_add_up_across_workers(serve: Callable[..., Served], store: Store) -> None:
    server = serve()
    sent, pids = 0, set()
    deadline = time.monotonic() + WORKERS_SECONDS
    with ThreadPoolExecutor(4) as pool:
        while len(pids) < 2:  # until both workers have served some
            assert time.monotonic() < deadline, f"one worker served everything: {pids}"
            statuses = list(pool.map(lambda _: server.request("GET", OPENAPI)[0], range(8)))
            assert statuses == [200] * 8
            sent += 8
            pids = {
                line["pid"]
                for line in _json_lines(server.output())
                if line.get("route") == OPENAPI
            }
        body = json.dumps({"name": "Launch", "currency": "EUR"}).encode()
        headers = _bearer(store)
        created = list(
            pool.map(lambda _: server.request("POST", "/api/v1/plans", body=body, headers=headers),
                     range(6))
        )  # fmt: skip
        assert [status for status, _, _ in created] == [201] * 6
        scrapes = list(pool.map(lambda _: server.request("GET", "/metrics"), range(4)))

    for status, _, text in scrapes:
        assert status == 200
        metrics = Scrape(text.decode())
        ok = {"method": "GET", "route": OPENAPI, "status": "200"}
        assert metrics.value("leanplan_http_requests_total", **ok) == sent
        assert metrics.value("leanplan_http_request_duration_seconds_count", route=OPENAPI) == sent
        assert (
            metrics.value(
                "leanplan_http_requests_total", method="POST", route="/api/v1/plans", status="201"
            )
            == 6
        )
        appended = metrics.total("leanplan_events_appended_total")
        assert appended >= 6
        last = metrics.value("leanplan_event_log_last_notification_id")
        assert appended == last - store.last_id

    os.kill(min(pids), signal.SIGKILL)  # a worker dies; gunicorn starts another
    while sum("Booting worker" in line for line in server.output()) < 3:
        assert time.monotonic() < deadline, "gunicorn did not replace the killed worker"
        time.sleep(0.05)
    status, _, text = server.request("GET", "/metrics")
    assert status == 200
    ok = {"method": "GET", "route": OPENAPI, "status": "200"}
    assert Scrape(text.decode()).value("leanplan_http_requests_total", **ok) == sent, (
        "the dead worker's counts must stay in the totals"
    )


def _sign_in(server: Served, store: Store) -> list[str]:
    """Signs in through the form; returns the session cookies the server handed out and the
    CSRF token, each `name=value` as the browser sends it back."""
    status, headers, page = server.request("GET", "/sign-in")
    assert status == 200
    (before,) = _cookies(headers)
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    form = {"name": "ann", "password": store.password, "csrf_token": csrf.group(1).decode()}
    status, headers, _ = server.request(
        "POST", "/sign-in", body=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": before},
    )  # fmt: skip
    assert status == 303
    (signed_in,) = _cookies(headers)
    status, _, page = server.request("GET", "/plans", headers={"Cookie": signed_in})
    assert status == 200 and b"Launch" in page
    return [before, signed_in, form["csrf_token"]]


def _cookies(headers: dict[str, str]) -> list[str]:
    return [line.split(";")[0] for line in headers.get("set-cookie", "").splitlines()]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_logs_carry_request_ids_and_no_secret(
    serve: Callable[..., Served], store: Store, log_format: str
) -> None:
    server = serve(LEANPLAN_LOG_FORMAT=log_format)
    body = json.dumps({"name": "Launch", "currency": "EUR"}).encode()
    headers = _bearer(store) | {"X-Request-ID": "ops-test-plan-1"}
    status, answer, content = server.request("POST", "/api/v1/plans", body=body, headers=headers)
    assert status == 201 and answer["x-request-id"] == "ops-test-plan-1"
    plan_id = json.loads(content)["id"]

    body = json.dumps({"name": "Team"}).encode()
    status, _, content = server.request(
        "POST", f"/api/v1/plans/{plan_id}/feeds", body=body, headers=_bearer(store)
    )
    assert status == 201
    feed_token = json.loads(content)["token"]
    status, fetched, _ = server.request("GET", f"/feeds/{feed_token}.ics")
    assert status == 200
    status, _, _ = server.request(
        "GET", f"/feeds/{feed_token}.ics", headers={"If-None-Match": fetched["etag"]}
    )
    assert status == 304

    link_password = f"link-{secrets.token_urlsafe(12)}"
    link = {
        "name": "Team calendar",
        "url": f"http://127.0.0.1:{free_port()}/ann/calendar/",
        "username": "ann-calendar",
        "password": link_password,
    }
    status, _, _ = server.request(
        "POST", f"/api/v1/plans/{plan_id}/calendar-links",
        body=json.dumps(link).encode(), headers=_bearer(store),
    )  # fmt: skip
    assert status == 201
    signed_in = _sign_in(server, store)
    output = server.stop()

    cookie_values = [cookie.split("=", 1)[1] for cookie in signed_in[:2]]
    for secret in (feed_token, store.password, store.token, link_password, *cookie_values,
                   signed_in[2]):  # fmt: skip
        assert secret not in output
    assert SECRET_KEY not in output
    request_ids = {"plan": "ops-test-plan-1", "feed": fetched["x-request-id"]}
    if log_format == "json":
        lines = _json_lines(output.splitlines())  # fails on any line that is not JSON
        for line in lines:
            assert {"time", "level", "logger", "message", "pid"} <= line.keys()
        (created,) = [line for line in lines if line.get("request_id") == request_ids["plan"]
                      and line["logger"] == "web.ops.requests"]  # fmt: skip
        assert (created["method"], created["route"], created["status"]) == (
            "POST", "/api/v1/plans", 201
        )  # fmt: skip
        assert created["duration_ms"] > 0
        during_feed = [line for line in lines if line.get("request_id") == request_ids["feed"]]
        loggers = [line["logger"] for line in during_feed]
        assert loggers == ["web.feeds", "web.ops.requests"], during_feed
        assert during_feed[1]["route"] == "/feeds/<token>.ics"
    else:
        assert not [line for line in output.splitlines() if line.startswith("{")]
        for request_id in request_ids.values():
            assert f"[{request_id}] " in output
