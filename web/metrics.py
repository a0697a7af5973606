"""Prometheus metrics: what the web workers count, and what the store says at scrape time.

Counted by each worker (and added up across gunicorn's workers by prometheus-client's
multiprocess mode, see web.shared_metrics):
- `leanplan_http_requests_total{method, route, status}` and
  `leanplan_http_request_duration_seconds{route}`: by route template (`/feeds/<token>.ics`),
  never the path, which may hold a feed token and would make a series per plan;
- `leanplan_events_appended_total{event}`: events saved by the web workers, by event class.

Read from the store by whichever worker answers the scrape, so they are the same from every
worker and are not added up:
- `leanplan_store_up`; `leanplan_event_log_last_notification_id`: every event appended by any
  process, the sync worker's included (`rate()` of it is the store's write rate);
- `leanplan_sync_lag_notifications`: how far the sync worker's tracking position is behind the
  event log;
- per calendar link, labelled by link id only (never its URL or user name):
  `leanplan_sync_link_failures` (failed passes in a row), `leanplan_sync_link_status{status}`
  (1 for its current state) and `leanplan_sync_link_last_sync_timestamp_seconds`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import PersistenceError
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from adapters.caldav_state import SideDatabase, Status, SyncState, UnsupportedStore
from adapters.probe import last_notification_id
from domain.application import Leanplan
from web.shared_metrics import MULTIPROC_ENV

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
"""The route label of a request no route matched: its path is the client's, not ours."""

REQUESTS = Counter(
    "leanplan_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
LATENCY = Histogram(
    "leanplan_http_request_duration_seconds",
    "Time from the request reaching the app to its answer, by route template.",
    ("route",),
)
EVENTS_APPENDED = Counter(
    "leanplan_events_appended",
    "Events saved to the store by the web workers, by event class.",
    ("event",),
)
_COUNTING = "_leanplan_counts_events"


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method if method in METHODS else "OTHER", route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def count_appended_events(app: Leanplan) -> None:
    """Counts what each `save` of this application appends (once, however often it is called).

    Every command ends in `Application.save`, which returns the recordings it made; wrapping it
    on this instance counts them without the domain knowing about metrics.
    """
    if getattr(app.save, _COUNTING, False):
        return
    save = app.save

    @functools.wraps(save)
    def counted(*objects: Any, **kwargs: Any) -> Any:
        recordings = save(*objects, **kwargs)
        for recording in recordings:
            EVENTS_APPENDED.labels(type(recording.domain_event).__qualname__).inc()
        return recordings

    setattr(counted, _COUNTING, True)
    app.save = counted  # type: ignore[method-assign]


class StoreMetrics(Collector):
    """Reads the store when scraped: one per app, created with it, reading the sync worker's
    tables from the first scrape on."""

    def __init__(self, app: Leanplan) -> None:
        self._app = app
        self._sync: SyncState | None = None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("leanplan_store_up", "1 when the event store answered this scrape.")
        try:
            last = last_notification_id(self._app)
        except PersistenceError as error:
            log.warning("metrics: the event store did not answer: %s", error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "leanplan_event_log_last_notification_id",
            "The newest notification id of the event log: events appended by any process.",
            value=last,
        )
        try:
            yield from self._sync_metrics(last)
        except UnsupportedStore:
            return  # an in-memory store has no sync worker
        except PersistenceError as error:
            log.warning("metrics: the sync worker's state could not be read: %s", error)

    def _sync_metrics(self, last: int) -> Iterator[Metric]:
        if self._sync is None:
            self._sync = SyncState(SideDatabase(self._app))
        position, links = self._sync.position(), self._sync.links()
        yield GaugeMetricFamily(
            "leanplan_sync_lag_notifications",
            "How many notifications the calendar sync worker has yet to read from the event log.",
            value=max(0, last - position),
        )
        failures = GaugeMetricFamily(
            "leanplan_sync_link_failures",
            "Failed sync passes in a row, per calendar link (0 after a good pass).",
            labels=("link_id",),
        )
        status = GaugeMetricFamily(
            "leanplan_sync_link_status",
            "1 for the state each calendar link is in, 0 for the others.",
            labels=("link_id", "status"),
        )
        synced = GaugeMetricFamily(
            "leanplan_sync_link_last_sync_timestamp_seconds",
            "When each calendar link last synced without error (Unix time).",
            labels=("link_id",),
        )
        for link in links:
            link_id = str(link.link_id)
            failures.add_metric([link_id], link.failures)
            for state in (Status.PENDING, Status.OK, Status.RETRYING, Status.FAILING):
                status.add_metric([link_id, state], int(link.status == state))
            if link.last_sync_at is not None:
                synced.add_metric([link_id], link.last_sync_at.timestamp())
        yield from (failures, status, synced)


class _Scrape(Collector):
    """What one scrape shows: the counted metrics and the store's."""

    def __init__(self, counted: Collector, store: StoreMetrics) -> None:
        self._counted = counted
        self._store = store

    def collect(self) -> Iterator[Metric]:
        yield from self._counted.collect()
        yield from self._store.collect()


def exposition(store: StoreMetrics) -> bytes:
    """The text exposition format; under gunicorn, counted metrics summed over all workers."""
    counted = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    return generate_latest(_Scrape(counted, store))
