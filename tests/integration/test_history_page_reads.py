"""How the history read side reads a page: one join with the event store, whatever the page spans."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date
from uuid import UUID

import psycopg
import pytest

from adapters.history import HistoryReadModel, history_read_model
from adapters.store import eventsourcing_env
from domain.application import Leanplan
from domain.history import Change, HistoryFilter, HistoryPage
from tests.integration.test_history_read_model import OWNER, filters, small_plan
from tests.integration.test_upcasting import store_legacy_milestone

POOLED = 4


def every_page(model: HistoryReadModel, plan_id: UUID, wanted: HistoryFilter) -> list[HistoryPage]:
    pages: list[HistoryPage] = []
    after = 0
    while True:
        page = model.page(plan_id, wanted, limit=3, after=after)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = page.next_cursor


def statements_of_a_page(model: HistoryReadModel, plan_id: UUID, wanted: HistoryFilter) -> list[str]:
    """Every SQL statement SQLite runs for one page, traced on every connection of the pool.

    One thread never holds more than two connections at once (a catch-up reads the log while it
    writes), so taking POOLED at once hands out each connection the pool has, and new ones.
    """
    traced: list[str] = []
    with ExitStack() as held:
        connections = [
            held.enter_context(model.datastore.get_connection(commit=False)).cursor().sqlite_cursor.connection
            for _ in range(POOLED)
        ]
    for connection in connections:
        connection.set_trace_callback(traced.append)
    try:
        entries = model.page(plan_id, wanted, limit=50).entries
    finally:
        for connection in connections:
            connection.set_trace_callback(None)
    assert entries
    return traced


def test_a_page_costs_the_same_statements_however_many_milestones_it_spans(sqlite_url: str) -> None:
    app = Leanplan(env=eventsourcing_env(sqlite_url))
    plan_id = app.start_plan("Wide", actor="ann")
    ids = [
        app.add_milestone(
            plan_id, title=f"M{n}", kind="implementation", due=date(2027, 1, 1), budget=1, owner=OWNER, actor="ann"
        )
        for n in range(30)
    ]
    for milestone_id in ids:
        app.reschedule(milestone_id, date(2027, 2, 1), reason="later", actor="bo")
    model = history_read_model(app)
    model.catch_up()
    one = statements_of_a_page(model, plan_id, HistoryFilter(milestone_id=ids[0]))
    many = statements_of_a_page(model, plan_id, HistoryFilter(types=frozenset({"MilestoneRescheduled"})))
    reading = [s for s in many if s.startswith("SELECT")]
    assert len(one) == len(many)
    assert len(reading) == 2, reading  # is the read side current; the page joined with its events
    assert "JOIN stored_events" in reading[1]


def test_a_page_upcasts_stored_version_1_events(database_url: str) -> None:
    app = Leanplan(env=eventsourcing_env(database_url))
    plan_id = app.start_plan("Legacy", actor="alice")
    store_legacy_milestone(app, plan_id)
    page = history_read_model(app).page(plan_id, limit=10)
    assert page == app.history_page(plan_id, limit=10)
    [added] = [e for e in page.entries if e.type == "MilestoneAdded"]
    assert (added.changes["description"], added.changes["title"]) == (
        Change(None, ""),
        Change(None, "Legacy beta"),
    )


def test_a_reset_read_side_rebuilds_identical_pages(database_url: str) -> None:
    app = Leanplan(env=eventsourcing_env(database_url))
    plan_id, ids = small_plan(app)
    model = history_read_model(app)
    before = [every_page(model, plan_id, wanted) for wanted in filters(ids, app, plan_id)]
    model.reset()
    assert model.position() == 0
    assert [every_page(model, plan_id, wanted) for wanted in filters(ids, app, plan_id)] == before
    assert model.position() > 0


def test_a_page_sees_a_change_saved_after_the_last_page(database_url: str) -> None:
    """The cheap is-it-current check must not hide a new event, from this process or another."""
    app = Leanplan(env=eventsourcing_env(database_url))
    plan_id, ids = small_plan(app)
    model = history_read_model(app)
    count = model.count(plan_id)
    Leanplan(env=eventsourcing_env(database_url)).reschedule(ids[0], date(2027, 6, 1), reason="r", actor="cy")
    assert model.count(plan_id) == count + 1
    assert [e.actor for e in model.page(plan_id, HistoryFilter(actor="cy")).entries] == ["cy"]


@pytest.mark.postgres
def test_pages_read_events_from_the_configured_postgres_schema(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA plans")
    app = Leanplan(env=eventsourcing_env(f"{postgres_url}?schema=plans"))
    plan_id, _ = small_plan(app)
    assert history_read_model(app).page(plan_id, limit=100) == app.history_page(plan_id, limit=100)
