"""The history read side agrees with the domain's own history, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from uuid import UUID

import pytest

from adapters.history import HistoryReadModel, history_read_model
from adapters.store import eventsourcing_env
from domain.application import Leanplan
from domain.history import HistoryFilter
from domain.milestone import Milestone
from domain.values import Person

OWNER = Person("Ada Owner", "ada@example.com")


def small_plan(app: Leanplan) -> tuple[UUID, list[UUID]]:
    plan_id = app.start_plan("Read side", actor="ann")
    assumption = app.add_assumption(plan_id, "Teams want it", actor="ann")
    ids = [
        app.add_milestone(
            plan_id,
            title=f"Step {n}",
            kind="implementation",
            due=date(2027, 1, 1 + n),
            budget="100.00",
            owner=OWNER,
            actor="ann" if n % 2 else 'bo "the builder" \\ ünï',
            assumption_id=assumption if n == 0 else None,
        )
        for n in range(4)
    ]
    app.reschedule(ids[1], date(2027, 2, 1), reason="supplier late", actor="bo")
    app.complete(ids[2], actor="bo", actual_cost="80.00")
    app.cancel(ids[3], reason="out of scope", actor="ann")
    app.validate_assumption(plan_id, assumption, evidence="9 of 10 said yes", actor="ann")
    return plan_id, ids


def filters(ids: list[UUID], app: Leanplan, plan_id: UUID) -> list[HistoryFilter]:
    middle = list(app.history(plan_id))[4].at
    return [
        HistoryFilter(),
        HistoryFilter(milestone_id=ids[1]),
        HistoryFilter(actor='bo "the builder" \\ ünï'),
        HistoryFilter(types=frozenset({"MilestoneAdded", "MilestoneCancelled"})),
        HistoryFilter(since=middle),
        HistoryFilter(until=middle),
        HistoryFilter(since=middle, until=middle + timedelta(days=1), actor="bo"),
    ]


def test_every_filtered_page_equals_the_domain_history(database_url: str) -> None:
    app = Leanplan(env=eventsourcing_env(database_url))
    plan_id, ids = small_plan(app)
    model = history_read_model(app)
    for wanted in filters(ids, app, plan_id):
        after = 0
        while True:
            expected = app.history_page(plan_id, wanted, limit=3, after=after)
            assert model.page(plan_id, wanted, limit=3, after=after) == expected
            if expected.next_cursor is None:
                break
            after = expected.next_cursor
    assert model.count(plan_id) == app.plan(plan_id).version


def test_catch_up_resumes_from_its_tracking_position(database_url: str) -> None:
    app = Leanplan(env=eventsourcing_env(database_url))
    plan_id, ids = small_plan(app)
    model = history_read_model(app)
    first = model.catch_up()
    assert first > 0
    assert model.catch_up() == 0
    app.reschedule(ids[0], date(2027, 3, 3), reason="moved", actor="cy")
    restarted = history_read_model(Leanplan(env=eventsourcing_env(database_url)))
    assert restarted.catch_up() == 1
    last = restarted.page(plan_id, HistoryFilter(actor="cy")).entries
    assert [(e.type, e.changes["due"].new, e.reason) for e in last] == [
        ("MilestoneRescheduled", "2027-03-03", "moved")
    ]


def test_an_event_committed_late_takes_its_place_in_time(database_url: str) -> None:
    """Two writers: the event stamped first is committed second; positions still follow time."""
    app = Leanplan(env=eventsourcing_env(database_url))
    plan_id, ids = small_plan(app)
    model = history_read_model(app)
    model.catch_up()
    early = app.milestone(ids[0])
    early.reschedule(date(2027, 4, 1), reason="stamped first", actor="early")
    late = app.milestone(ids[1])
    late.reschedule(date(2027, 5, 1), reason="stamped second", actor="late")
    app.save(late)
    model.catch_up()
    app.save(early)
    entries = model.page(plan_id, limit=100).entries
    assert entries == app.history_page(plan_id, limit=100).entries
    assert [e.actor for e in entries[-2:]] == ["early", "late"]
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))


def test_concurrent_catch_ups_project_each_event_once(database_url: str) -> None:
    app = Leanplan(env=eventsourcing_env(database_url))
    plan_id, _ = small_plan(app)
    models = [history_read_model(Leanplan(env=eventsourcing_env(database_url))) for _ in range(3)]
    threads = [threading.Thread(target=model.catch_up) for model in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert models[0].count(plan_id) == app.plan(plan_id).version
    assert models[1].page(plan_id, limit=100) == app.history_page(plan_id, limit=100)


def test_events_outside_plans_are_not_history(sqlite_url: str) -> None:
    app = Leanplan(env=eventsourcing_env(sqlite_url))
    app.register_user("ann", email="ann@example.com", token_hash="0" * 64, actor="cli")
    plan_id, _ = small_plan(app)
    model = HistoryReadModel(app)
    model.catch_up()
    assert {e.type for e in model.page(plan_id, limit=100).entries} <= {
        "PlanStarted",
        "AssumptionAdded",
        "AssumptionValidated",
        *(name for name in vars(Milestone) if name.startswith("Milestone")),
    }


def test_plan_view_follows_changes_made_by_another_process(database_url: str) -> None:
    reader = Leanplan(env=eventsourcing_env(database_url))
    writer = Leanplan(env=eventsourcing_env(database_url))
    plan_id, ids = small_plan(writer)
    before = reader.plan(plan_id)
    assert reader.plan(plan_id) is before
    writer.reschedule(ids[0], date(2028, 1, 1), reason="later", actor="bo")
    added = writer.add_milestone(
        plan_id, title="Late addition", kind="assumption", due=date(2028, 2, 2), budget=5, owner=OWNER, actor="bo"
    )
    after = reader.plan(plan_id)
    assert after.milestone(ids[0]).due == date(2028, 1, 1)
    assert after.milestone(added).title == "Late addition"
    assert before.milestone(ids[0]).due == date(2027, 1, 1)
    fresh = Leanplan(env=eventsourcing_env(database_url)).plan_as_of(plan_id)
    assert after.version == fresh.version
    assert [(m.id, m.due, m.status, m.version) for m in after.milestones] == [
        (m.id, m.due, m.status, m.version) for m in sorted(fresh.milestones, key=lambda m: after.milestones.index(after.milestone(m.id)))
    ]


@pytest.mark.parametrize("actor", ["plain", 'quote " and \\ backslash', "ünïcødé ✓", "tab\there"])
def test_actor_names_survive_the_pattern_index(sqlite_url: str, actor: str) -> None:
    app = Leanplan(env=eventsourcing_env(sqlite_url))
    plan_id = app.start_plan("Names", actor=actor)
    model = history_read_model(app)
    assert [e.actor for e in model.page(plan_id, HistoryFilter(actor=actor)).entries] == [actor]
