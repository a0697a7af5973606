"""/metrics: requests by route template, latencies, events appended, sync lag and link health."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.caldav_http import RetryPolicy
from adapters.caldav_state import SideDatabase, SyncState
from adapters.caldav_sync import CalendarSync, SyncSettings
from adapters.secrets import LinkSecrets, cipher
from domain.application import Leanplan
from tests.api.support import milestone_body
from tests.caldav.support import CalendarApp, Radicale, free_port
from tests.ops.conftest import SECRET_KEY
from tests.ops.support import Api, scrape
from web import create_app

PLAN_ROUTE = "/api/v1/plans/<uuid:plan_id>"
ASSUMPTION = {"statement": "Teams will pay for reviews", "test": "ten interviews"}


def test_requests_are_counted_by_route_template_never_by_path(
    client: FlaskClient, api: Api
) -> None:
    plan_id = api.start_plan()
    before = scrape(client)
    for _ in range(3):
        assert api.call("GET", f"/plans/{plan_id}").status_code == 200
    assert api.call("GET", f"/plans/{plan_id}/nothing-here").status_code == 404
    after = scrape(client)

    def grown(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    ok = {"method": "GET", "route": PLAN_ROUTE, "status": "200"}
    assert grown("leanplan_http_requests_total", **ok) == 3
    assert grown("leanplan_http_requests_total", method="GET", route="<unmatched>", status="404")
    assert grown("leanplan_http_request_duration_seconds_count", route=PLAN_ROUTE) == 3
    assert grown("leanplan_http_request_duration_seconds_bucket", route=PLAN_ROUTE, le="+Inf") == 3
    assert grown("leanplan_http_request_duration_seconds_sum", route=PLAN_ROUTE) > 0
    assert plan_id not in after.text


def test_a_feed_is_counted_under_its_route_and_its_token_never_shows(
    client: FlaskClient, api: Api
) -> None:
    plan_id = api.start_plan()
    created = api.call("POST", f"/plans/{plan_id}/feeds", json={"name": "Team"})
    assert created.status_code == 201, created.json
    feed_token = created.json["token"]
    before = scrape(client)
    assert client.get(f"/feeds/{feed_token}.ics").status_code == 200
    after = scrape(client)
    labels = {"method": "GET", "route": "/feeds/<token>.ics", "status": "200"}
    assert after.value("leanplan_http_requests_total", **labels) == (
        before.value("leanplan_http_requests_total", **labels) + 1
    )
    assert feed_token not in after.text


def test_events_appended_counts_every_event_a_command_saves(
    client: FlaskClient, api: Api, leanplan: Leanplan
) -> None:
    before = scrape(client)
    first = int(before.value("leanplan_event_log_last_notification_id"))
    plan_id = api.start_plan()
    milestone = api.call("POST", f"/plans/{plan_id}/milestones", json=milestone_body())
    assert milestone.status_code == 201
    assert api.call("POST", f"/plans/{plan_id}/assumptions", json=ASSUMPTION).status_code == 201
    after = scrape(client)

    saved = Counter(
        type(leanplan.mapper.to_domain_event(notification)).__qualname__
        for notification in leanplan.recorder.select_notifications(first + 1, 1_000)
    )
    earlier = before.by_label("leanplan_events_appended_total", "event")
    now = after.by_label("leanplan_events_appended_total", "event")
    counted = Counter({event: count - earlier.get(event, 0) for event, count in now.items()})
    assert len(saved) >= 3  # the plan's, the milestone's and the assumption's events at least
    assert +counted == saved
    assert after.value("leanplan_event_log_last_notification_id") == first + sum(saved.values())


def test_metrics_can_require_a_bearer_token(leanplan: Leanplan) -> None:
    metrics_token = secrets.token_urlsafe(24)
    client = create_app(
        {"LEANPLAN_APP": leanplan, "LEANPLAN_METRICS_TOKEN": metrics_token}
    ).test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = scrape(client, Authorization=f"Bearer {metrics_token}")
    assert scraped.value("leanplan_store_up") == 1
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


# Calendar sync, as the worker records it.


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture
def worker(leanplan: Leanplan) -> Iterator[CalendarSync]:
    """The worker `leanplan sync` runs, retrying at once so a refused link fails fast."""
    database = SideDatabase(leanplan)
    sync = CalendarSync(
        leanplan,
        secrets=LinkSecrets(database, cipher(SECRET_KEY)),
        settings=SyncSettings(
            retry=RetryPolicy(attempts=2, base_seconds=0.001, max_seconds=0.01),
            transient_backoff=timedelta(0),
        ),
        state=SyncState(database),
    )
    yield sync
    sync.close()


def test_sync_lag_and_link_health_follow_the_workers_state(
    app: Flask, api: Api, worker: CalendarSync, radicale: Radicale
) -> None:
    client = app.test_client()
    plan_id = api.start_plan()
    collection = f"{radicale.url}/ann/{secrets.token_hex(6)}/"
    CalendarApp(collection).create_collection()
    nowhere = f"http://127.0.0.1:{free_port()}/ann/calendar/"  # a closed port
    password = f"link-password-{secrets.token_hex(8)}"
    link_ids = {}
    for name, url in (("Team", collection), ("Broken", nowhere)):
        created = api.call(
            "POST", f"/plans/{plan_id}/calendar-links",
            json={"name": name, "url": url, "username": "ann-calendar", "password": password},
        )  # fmt: skip
        assert created.status_code == 201, created.json
        link_ids[name] = created.json["id"]

    unread = scrape(client)
    last = unread.value("leanplan_event_log_last_notification_id")
    assert last > 0
    assert unread.value("leanplan_sync_lag_notifications") == last, "no worker has read the log"

    worker.sync_once()
    worker.sync_once()
    synced = scrape(client)
    assert synced.value("leanplan_sync_lag_notifications") == 0
    good, broken = link_ids["Team"], link_ids["Broken"]
    assert synced.value("leanplan_sync_link_failures", link_id=good) == 0
    assert synced.value("leanplan_sync_link_failures", link_id=broken) == 2
    assert synced.value("leanplan_sync_link_status", link_id=good, status="ok") == 1
    assert synced.value("leanplan_sync_link_status", link_id=broken, status="retrying") == 1
    assert synced.value("leanplan_sync_link_status", link_id=broken, status="ok") == 0
    assert synced.by_label("leanplan_sync_link_last_sync_timestamp_seconds", "link_id").keys() == {
        good
    }
    for secret in (collection, nowhere, "ann-calendar", password):
        assert secret not in synced.text

    assert api.call("POST", f"/plans/{plan_id}/assumptions", json=ASSUMPTION).status_code == 201
    behind = scrape(client)
    assert behind.value("leanplan_sync_lag_notifications") == (
        behind.value("leanplan_event_log_last_notification_id") - synced.value(
            "leanplan_event_log_last_notification_id"
        )
    ) > 0
