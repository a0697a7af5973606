"""Calendar sync fixtures: a real Radicale per session (a fresh calendar per test), the store,
and a worker tuned to retry fast."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

import pytest

from adapters.bootstrap import open_leanplan
from adapters.caldav_http import RetryPolicy
from adapters.caldav_state import SideDatabase, SyncState
from adapters.caldav_sync import CalendarSync, SyncSettings
from adapters.secrets import LinkSecrets, cipher
from domain.application import Leanplan
from domain.values import Person
from tests.caldav.support import CalendarApp, Proxy, Radicale

SECRET_KEY = "test-secret-key-for-calendar-passwords"
OWNER = Person("Ann Lee", "ann@example.com")
FAST = SyncSettings(
    base_url="https://plans.example.org",
    retry=RetryPolicy(attempts=8, base_seconds=0.005, max_seconds=0.05),
    transient_backoff=timedelta(0),
    failing_backoff=timedelta(minutes=5),
)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture
def collection(radicale: Radicale) -> str:
    """A new, empty calendar collection for this test."""
    url = f"{radicale.url}/ann/{secrets.token_hex(6)}/"
    CalendarApp(url).create_collection()
    return url


@pytest.fixture
def app(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Leanplan:
    monkeypatch.setenv("LEANPLAN_SECRET_KEY", SECRET_KEY)
    return open_leanplan(sqlite_url, environ={})


@pytest.fixture
def link_secrets(app: Leanplan) -> LinkSecrets:
    return LinkSecrets(SideDatabase(app), cipher(SECRET_KEY))


@pytest.fixture
def worker(app: Leanplan, link_secrets: LinkSecrets) -> CalendarSync:
    return CalendarSync(
        app, secrets=link_secrets, settings=FAST, state=SyncState(SideDatabase(app))
    )


@pytest.fixture
def proxy_for(radicale: Radicale) -> Iterator[Callable[..., Proxy]]:
    started: list[Proxy] = []

    def start(**kwargs: object) -> Proxy:
        proxy = Proxy(radicale.port, **kwargs)  # type: ignore[arg-type]
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@dataclass
class Linked:
    """A plan with milestones and a calendar link to a collection."""

    app: Leanplan
    plan_id: UUID
    link_id: UUID
    milestones: list[UUID]
    calendar: CalendarApp


def make_plan(
    app: Leanplan, count: int, *, timezone: str = "Europe/Berlin"
) -> tuple[UUID, list[UUID]]:
    plan_id = app.start_plan("Launch", actor="ann", timezone=timezone)
    milestones = [
        app.add_milestone(
            plan_id,
            title=f"Milestone {n}",
            kind="implementation",
            due=date(2031, 1, 1) + timedelta(days=n),
            budget="100",
            owner=OWNER,
            actor="ann",
        )
        for n in range(count)
    ]
    return plan_id, milestones


@pytest.fixture
def link(app: Leanplan, link_secrets: LinkSecrets, collection: str) -> Callable[..., Linked]:
    """Links a new plan of `count` milestones to this test's calendar (or another URL)."""

    def create(
        count: int = 3, *, url: str | None = None, password: str = "", **options: str
    ) -> Linked:
        plan_id, milestones = make_plan(app, count)
        link_id = app.link_calendar(
            plan_id, "Team", url=url or collection, user="ann", actor="ann", **options
        )
        link_secrets.put(link_id, password)
        return Linked(app, plan_id, link_id, milestones, CalendarApp(collection, "ann", password))

    return create
