"""Several sync workers on one store (SQLite and PostgreSQL): a link is worked on by one worker at
a time, each object is written once, and a killed worker's lock does not outlive it.

A proxy in front of Radicale logs every request the server answered, and can hold one in its
gate: a worker stopped in the middle of a push is a worker holding its link's lock."""

from __future__ import annotations

import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import pytest

from adapters.bootstrap import open_leanplan
from adapters.caldav_content import Renderer, parse_object, resource_name
from adapters.caldav_locks import FOLLOW, worker_locks
from adapters.caldav_state import SideDatabase, SyncState
from adapters.caldav_sync import CalendarSync, PassReport
from adapters.secrets import LinkSecrets, cipher
from domain.application import Leanplan
from tests.caldav.conftest import FAST, SECRET_KEY, make_plan
from tests.caldav.support import CalendarApp, Exchange, Proxy, Radicale
from tests.multiprocess.support import Processes, wait_until

MILESTONES = 20
OBJECTS = MILESTONES + 1  # and the review series


@dataclass
class Store:
    """A plan on one store, linked to calendars through the proxy, and a way to open workers."""

    database_url: str
    app: Leanplan
    plan_id: UUID
    opened: list[Leanplan]

    def link(self, collection: str, proxy: Proxy, name: str) -> UUID:
        link_id = self.app.link_calendar(
            self.plan_id, name, url=proxy.url + urlsplit(collection).path, user="ann", actor="ann"
        )
        LinkSecrets(SideDatabase(self.app), cipher(SECRET_KEY)).put(link_id, "")
        return link_id

    def open(self) -> Leanplan:
        """The store opened again, with connections of its own, as by another process."""
        app = open_leanplan(self.database_url, environ={})
        self.opened.append(app)
        return app

    def worker(self) -> CalendarSync:
        """A worker with its own application, connections and locks, as in another process."""
        app = self.open()
        database = SideDatabase(app)
        return CalendarSync(
            app,
            secrets=LinkSecrets(database, cipher(SECRET_KEY)),
            settings=FAST,
            state=SyncState(database),
        )

    def matches(self, link_id: UUID, collection: str) -> bool:
        """The calendar holds exactly what the plan wants there, one object per UID."""
        view = self.app.plan(self.plan_id)
        link = view.plan.calendar_link(link_id)
        renderer = Renderer(FAST.base_url, FAST.cancelled_grace)
        wanted = renderer.wanted(view, link, datetime.now(UTC))
        objects = CalendarApp(collection).objects()
        parsed = {name: parse_object(body) for name, body in objects.items()}
        assert all(name == resource_name(p.uid) for name, p in parsed.items())
        return {p.uid: p.fields for p in parsed.values()} == {
            uid: want.fields for uid, want in wanted.items()
        }


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    app = open_leanplan(database_url, environ={})
    plan_id, _ = make_plan(app, MILESTONES)
    opened = [app]
    yield Store(database_url, app, plan_id, opened)
    for each in opened:
        each.close()


def _puts(exchanges: list[Exchange]) -> dict[str, list[int]]:
    """The statuses of the PUTs to each object, in order."""
    statuses: dict[str, list[int]] = defaultdict(list)
    for exchange in exchanges:
        if exchange.method == "PUT":
            statuses[exchange.path].append(exchange.status)
    return dict(statuses)


class Gate:
    """Holds the first PUT to a path under `prefix` until released: its sender is mid-pass."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.arrived = threading.Event()
        self.released = threading.Event()

    def __call__(self, method: str, path: str) -> None:
        if method == "PUT" and path.startswith(self.prefix) and not self.arrived.is_set():
            self.arrived.set()
            self.released.wait(60)


def test_a_link_another_worker_holds_is_left_alone(
    store: Store, collection: str, proxy_for: Callable[..., Proxy]
) -> None:
    proxy = proxy_for()
    link_id = store.link(collection, proxy, "Team")
    worker = store.worker()
    other = worker_locks(store.open())

    with other.hold(FOLLOW) as held:
        assert held
        assert worker.sync_once() == PassReport()  # the log is another worker's to read now
        assert worker.state.position() == 0
    with other.hold(str(link_id)) as held:
        assert held
        report = worker.sync_once()
        assert (report.links, report.busy, report.written) == (0, 1, 0)
        assert proxy.exchanges == []  # not a single request to the calendar
        assert worker.state.link(link_id) is not None  # but the log was read
    report = worker.sync_once()
    assert (report.links, report.busy, report.written) == (1, 0, OBJECTS)
    assert all(statuses == [201] for statuses in _puts(proxy.exchanges).values())
    assert store.matches(link_id, collection)
    other.close()
    worker.close()


def test_two_workers_at_once_share_the_links_and_write_each_object_once(
    store: Store, collection: str, radicale: Radicale, proxy_for: Callable[..., Proxy]
) -> None:
    second = f"{radicale.url}/ann/{secrets.token_hex(6)}/"
    CalendarApp(second).create_collection()
    proxy = proxy_for()
    links = {
        store.link(collection, proxy, "Team"): collection,
        store.link(second, proxy, "Own"): second,
    }
    gate = proxy.gate = Gate(urlsplit(collection).path)
    first, other = store.worker(), store.worker()
    reports: list[PassReport] = []
    running = threading.Thread(target=lambda: reports.append(first.sync_once()))
    running.start()
    try:
        assert gate.arrived.wait(60), "the first worker wrote nothing"
        meanwhile = other.sync_once()  # the first worker is in the middle of pushing a link
    finally:
        gate.released.set()
        running.join(60)
    [report] = reports
    assert meanwhile.busy == 1 and report.busy == 0
    assert report.written + meanwhile.written == 2 * OBJECTS
    assert not report.failed and not meanwhile.failed
    puts = _puts(proxy.exchanges)
    assert len(puts) == 2 * OBJECTS
    assert all(s == [201] for s in puts.values()), puts  # each written once, never refused
    assert all(store.matches(link_id, url) for link_id, url in links.items())
    first.close()
    other.close()


def test_a_killed_worker_lets_go_of_its_link(
    store: Store,
    collection: str,
    proxy_for: Callable[..., Proxy],
    launch: Callable[[str], Processes],
) -> None:
    proxy = proxy_for()
    link_id = store.link(collection, proxy, "Team")
    gate = proxy.gate = Gate(urlsplit(collection).path)
    killed = launch(store.database_url).sync("--once")
    survivor = store.worker()
    try:
        assert gate.arrived.wait(60), f"the worker wrote nothing:\n{killed.output()}"
        held = survivor.sync_once()
        assert (held.links, held.busy, held.written) == (0, 1, 0)
        killed.kill()
    finally:
        gate.released.set()  # its last PUT reaches the server, unrecorded: as in a real crash
    reports: list[PassReport] = []

    def survivor_took_over() -> bool:
        reports.append(survivor.sync_once())
        return reports[-1].links == 1

    wait_until(survivor_took_over, "pass by the surviving worker", seconds=30)
    assert not reports[-1].failed
    assert store.matches(link_id, collection)
    puts = _puts(proxy.exchanges)
    assert len(puts) == OBJECTS
    assert all(statuses.count(201) == 1 for statuses in puts.values()), puts
    retried = {path: s for path, s in puts.items() if s != [201]}
    assert all(statuses == [201, 412] for statuses in retried.values()), retried
    assert len(retried) <= 1  # at most the object in flight when the worker died
    assert {e.actor for e in store.app.history(store.plan_id)} == {"ann"}
    survivor.close()


def test_a_pass_clears_only_the_changes_announced_before_it_began(store: Store) -> None:
    """Another worker may read the log while a pass runs: what it announces must still wait."""
    state = SyncState(SideDatabase(store.app))
    link_id = uuid4()
    state.advance(1, linked=[(link_id, store.plan_id, "Team", "url", "ann")], unlinked=[],
                  changed_plans=[store.plan_id])  # fmt: skip
    claim = state.claim(link_id)
    assert claim is not None and claim.link.needs_push
    state.advance(2, linked=[], unlinked=[], changed_plans=[store.plan_id])  # during the pass
    _finish(state, link_id, served=claim.push_requests)
    again = state.claim(link_id)
    assert again is not None and again.link.needs_push
    _finish(state, link_id, served=again.push_requests)
    link = state.link(link_id)
    assert link is not None and not link.needs_push


def _finish(state: SyncState, link_id: UUID, *, served: int) -> None:
    state.finish(
        link_id, status="ok", at=datetime.now(UTC), error=None, failures=0,
        next_attempt_at=None, served=served,
    )  # fmt: skip
