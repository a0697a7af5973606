"""The Leanplan application on a real store, SQLite and PostgreSQL alike: commands, queries, reloads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from time import perf_counter
from typing import Any
from uuid import UUID

import pytest

from adapters.store import eventsourcing_env
from domain.application import Leanplan
from domain.errors import (
    DomainError,
    InvalidBudget,
    InvalidInput,
    MilestoneIsCancelled,
    MilestoneIsDone,
    PlanNotFound,
    ReasonRequired,
    UserExists,
)
from domain.history import Change, HistoryFilter
from domain.values import AssumptionStatus, Kind, MilestoneStatus, Person

BOB = Person("Bob Builder", "bob@example.com")
CAROL = Person("Carol Coder", "carol@example.com")


def now() -> datetime:
    return datetime.now(tz=UTC)


def stored_event_count(app: Leanplan) -> int:
    """Counts rows, not the highest id: PostgreSQL's sequence skips ids a failed insert took."""
    return len(app.recorder.select_notifications(start=None, limit=1_000_000))


def without_pending(aggregate: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return eventsourcing_env(database_url)


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[Leanplan]:
    with Leanplan(env=env) as application:
        yield application


@dataclass
class Timeline:
    """A plan's story, with the moments between its chapters."""

    plan_id: UUID
    beta: UUID
    ads: UUID
    assumption_id: UUID
    after_adding: datetime
    after_slipping: datetime
    after_cancelling: datetime
    events_after_adding: int


@pytest.fixture
def timeline(app: Leanplan) -> Timeline:
    plan_id = app.start_plan("Launch", actor="alice", timezone="Europe/Berlin", currency="EUR")
    assumption_id = app.add_assumption(plan_id, "Teams pay monthly", actor="alice", test="pricing page")
    beta = app.add_milestone(
        plan_id,
        title="Beta",
        kind="implementation",
        due=date(2030, 3, 1),
        budget="1000.10",
        owner=BOB,
        actor="alice",
        description="First users",
    )
    ads = app.add_milestone(
        plan_id,
        title="Ads",
        kind="assumption",
        due=date(2030, 4, 1),
        budget="0.10",
        owner=CAROL,
        actor="carol",
        assumption_id=assumption_id,
    )
    after_adding = now()
    app.reschedule(beta, date(2030, 3, 15), reason="supplier late", actor="bob")
    after_slipping = now()
    app.cancel(ads, reason="channel too expensive", actor="carol")
    after_cancelling = now()
    app.complete(beta, actor="bob", completed_on=date(2030, 3, 14), actual_cost="990")
    app.invalidate_assumption(plan_id, assumption_id, evidence="CAC too high", actor="carol")
    app.hold_review(plan_id, held_on=date(2030, 3, 14), notes="March", decisions=("pivot",), actor="alice")
    return Timeline(plan_id, beta, ads, assumption_id, after_adding, after_slipping, after_cancelling, 4)


def test_the_full_flow_is_stored_and_answered(app: Leanplan, timeline: Timeline) -> None:
    view = app.plan(timeline.plan_id)
    assert (view.plan.name, view.plan.timezone, view.plan.currency) == ("Launch", "Europe/Berlin", "EUR")
    assert [m.id for m in view.milestones] == [timeline.beta, timeline.ads]
    beta, ads = view.milestones
    assert (beta.status, beta.due, beta.original_due, beta.slip_days) == (
        MilestoneStatus.DONE,
        date(2030, 3, 15),
        date(2030, 3, 1),
        14,
    )
    assert (beta.budget, beta.actual_cost, beta.owner) == (Decimal("1000.10"), Decimal("990.00"), BOB)
    assert (ads.status, ads.assumption_id, ads.budget) == (
        MilestoneStatus.CANCELLED,
        timeline.assumption_id,
        Decimal("0.10"),
    )
    assert view.plan.assumption(timeline.assumption_id).status is AssumptionStatus.INVALIDATED
    assert view.plan.reviews[0].decisions == ("pivot",)

    entries = list(app.history(timeline.plan_id))
    assert [e.type for e in entries] == [
        "PlanStarted",
        "AssumptionAdded",
        "MilestoneAdded",
        "MilestoneAdded",
        "MilestoneRescheduled",
        "MilestoneCancelled",
        "MilestoneCompleted",
        "AssumptionInvalidated",
        "ReviewHeld",
    ]
    assert entries[4].changes == {"due": Change("2030-03-01", "2030-03-15")}
    assert (entries[4].actor, entries[4].reason) == ("bob", "supplier late")

    budget = app.budget(timeline.plan_id)
    assert (budget.total.planned, budget.total.actual) == (Decimal("1000.10"), Decimal("990.00"))
    assert budget.per_kind[Kind.ASSUMPTION].planned == Decimal("0")

    report = app.changes(timeline.plan_id, since=timeline.after_adding)
    assert [(s.milestone_id, s.days) for s in report.rescheduled] == [(timeline.beta, 14)]
    assert [m.id for m in report.cancelled] == [timeline.ads]
    assert [m.id for m in report.completed] == [timeline.beta]
    assert report.planned_budget_delta == Decimal("-0.10")
    assert [a[2] for a in report.assumptions_resolved] == [AssumptionStatus.INVALIDATED]


def test_a_second_application_on_the_same_database_reads_the_same_plan(
    app: Leanplan, env: dict[str, str], timeline: Timeline
) -> None:
    with Leanplan(env=env) as second:
        first_view, second_view = app.plan(timeline.plan_id), second.plan(timeline.plan_id)
        assert without_pending(second_view.plan) == without_pending(first_view.plan)
        assert [without_pending(m) for m in second_view.milestones] == [
            without_pending(m) for m in first_view.milestones
        ]
        assert list(second.history(timeline.plan_id)) == list(app.history(timeline.plan_id))
        assert second.plan_ids() == [timeline.plan_id]


def test_each_application_sees_the_others_later_changes(
    app: Leanplan, env: dict[str, str], timeline: Timeline
) -> None:
    app.plan(timeline.plan_id)  # warm the first application's view of the plan
    with Leanplan(env=env) as second:
        second.reopen(timeline.beta, reason="bug found", actor="bob")
        added = second.add_milestone(
            timeline.plan_id,
            title="GA",
            kind="implementation",
            due=date(2030, 6, 1),
            budget=5,
            owner=BOB,
            actor="a",
        )
        view = app.plan(timeline.plan_id)
        assert view.milestone(timeline.beta).status is MilestoneStatus.PLANNED
        assert [m.id for m in view.milestones] == [timeline.beta, timeline.ads, added]
        app.reschedule(timeline.beta, date(2030, 3, 20), reason="retest", actor="bob")
        assert second.plan(timeline.plan_id).milestone(timeline.beta).due == date(2030, 3, 20)


def test_the_plan_as_of_a_moment_includes_milestones_cancelled_since(
    app: Leanplan, timeline: Timeline
) -> None:
    after_adding = app.plan_as_of(timeline.plan_id, at=timeline.after_adding)
    assert {m.title: (m.status, m.due) for m in after_adding.milestones} == {
        "Beta": (MilestoneStatus.PLANNED, date(2030, 3, 1)),
        "Ads": (MilestoneStatus.PLANNED, date(2030, 4, 1)),
    }
    after_slipping = app.plan_as_of(timeline.plan_id, at=timeline.after_slipping)
    assert after_slipping.milestone(timeline.beta).due == date(2030, 3, 15)
    assert after_slipping.milestone(timeline.ads).status is MilestoneStatus.PLANNED
    after_cancelling = app.plan_as_of(timeline.plan_id, at=timeline.after_cancelling)
    assert after_cancelling.milestone(timeline.ads).status is MilestoneStatus.CANCELLED
    assert after_cancelling.milestone(timeline.beta).status is MilestoneStatus.PLANNED
    assert after_cancelling.plan.assumption(timeline.assumption_id).status is AssumptionStatus.UNTESTED


def test_the_plan_as_of_a_version_folds_that_many_events(app: Leanplan, timeline: Timeline) -> None:
    at_version = app.plan_as_of(timeline.plan_id, version=timeline.events_after_adding)
    assert at_version.version == timeline.events_after_adding
    assert [m.id for m in at_version.milestones] == [timeline.beta, timeline.ads]
    assert all(m.status is MilestoneStatus.PLANNED for m in at_version.milestones)
    latest = app.plan_as_of(timeline.plan_id, version=9)
    assert latest.version == app.plan(timeline.plan_id).version == 9
    assert latest.milestone(timeline.ads).status is MilestoneStatus.CANCELLED


def test_the_plan_did_not_exist_before_it_was_started(app: Leanplan, timeline: Timeline) -> None:
    with pytest.raises(PlanNotFound):
        app.plan_as_of(timeline.plan_id, at=timeline.after_adding - timedelta(days=1))
    with pytest.raises(PlanNotFound):
        app.plan_as_of(timeline.plan_id, version=0)


def test_time_travel_works_from_a_fresh_application(env: dict[str, str], timeline: Timeline) -> None:
    with Leanplan(env=env) as fresh:
        as_of = fresh.plan_as_of(timeline.plan_id, at=timeline.after_slipping)
        assert as_of.milestone(timeline.beta).due == date(2030, 3, 15)
        slips = fresh.history_page(timeline.plan_id, HistoryFilter(types=frozenset({"MilestoneRescheduled"})))
        assert [e.reason for e in slips.entries] == ["supplier late"]


@pytest.mark.parametrize(
    ("error", "command"),
    [
        (MilestoneIsDone, lambda app, t: app.reschedule(t.beta, date(2030, 5, 1), reason="more", actor="b")),
        (
            MilestoneIsCancelled,
            lambda app, t: app.complete(t.ads, actor="bob", completed_on=date(2030, 4, 1)),
        ),
        (ReasonRequired, lambda app, t: app.reopen(t.beta, reason=" ", actor="bob")),
        (InvalidBudget, lambda app, t: app.change_budget(t.beta, "-1", reason="refund", actor="bob")),
    ],
    ids=["reschedule-done", "complete-cancelled", "reopen-without-reason", "negative-budget"],
)
def test_refused_commands_store_nothing(
    app: Leanplan, timeline: Timeline, error: type[DomainError], command: Callable[[Leanplan, Timeline], None]
) -> None:
    before = stored_event_count(app)
    with pytest.raises(error):
        command(app, timeline)
    assert stored_event_count(app) == before


def test_a_user_name_is_taken_only_once_and_must_be_plain(app: Leanplan) -> None:
    app.register_user("ada", email="ada@example.com", token_hash="h1", actor="admin")
    with pytest.raises(UserExists):
        app.register_user("ADA", email="ada2@example.com", token_hash="h2", actor="admin")
    with pytest.raises(InvalidInput):
        app.register_user("bob\n", email="bob@example.com", token_hash="h3", actor="admin")
    assert app.user("ada").email == "ada@example.com"


def test_a_plan_of_ten_thousand_events_loads_and_changes_correctly(sqlite_url: str) -> None:
    """1,000 milestones with 10 events each; prints how long building and reading took."""
    first_due = date(2030, 1, 1)
    started = perf_counter()
    with Leanplan(env=eventsourcing_env(sqlite_url)) as app:
        plan_id = app.start_plan("Big", actor="alice")
        for number in range(1_000):
            milestone_id = app.add_milestone(
                plan_id,
                title=f"Milestone {number}",
                kind="implementation",
                due=first_due,
                budget=number,
                owner=BOB,
                actor="alice",
            )
            milestone = app.milestone(milestone_id)
            for day in range(1, 10):  # nine slips saved together, to keep the build quick
                milestone.reschedule(first_due + timedelta(days=day), reason=f"slip {day}", actor="bob")
            app.save(milestone)
    built = perf_counter()

    with Leanplan(env=eventsourcing_env(sqlite_url)) as app:
        view = app.plan(plan_id)
        loaded = perf_counter()
        assert view.version == 1 + 1_000 * 10
        assert len(view.milestones) == 1_000
        assert all(m.due == date(2030, 1, 10) and m.reschedule_count == 9 for m in view.milestones)
        assert app.budget(plan_id).total.planned == Decimal(sum(range(1_000)))

        target = view.milestones[500].id
        before_reschedule = perf_counter()
        app.reschedule(target, date(2030, 2, 1), reason="one more", actor="bob")
        rescheduled = perf_counter()
        after = app.plan(plan_id)
        reread = perf_counter()
        assert after.milestone(target).due == date(2030, 2, 1)
        assert (after.milestone(target).reschedule_count, after.milestone(target).slip_days) == (10, 31)
        assert after.version == 1 + 1_000 * 10 + 1
    print(
        f"\n10,000-event plan on SQLite: build {built - started:.2f} s, cold plan() {loaded - built:.3f} s, "
        f"reschedule() {rescheduled - before_reschedule:.4f} s, warm plan() {reread - rescheduled:.4f} s"
    )
