"""The demo plan tells a Lean Plan story: all kinds, owners, assumptions, a review, history."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from adapters.demo import last_second_friday, load_demo
from adapters.progress import Progress
from adapters.store import eventsourcing_env
from domain.application import Leanplan
from domain.values import AssumptionStatus, Kind, MilestoneStatus

TODAY = date(2025, 3, 20)  # a Thursday; that month's second Friday is 14 March


def _leanplan(database_url: str, today: date) -> Leanplan:
    """The application with its clock at noon on `today` (in Berlin as in UTC)."""
    noon = datetime.combine(today, datetime.min.time(), UTC).replace(hour=12)
    return Leanplan(env=eventsourcing_env(database_url), clock=lambda: noon)


@pytest.fixture
def app(database_url: str) -> Iterator[Leanplan]:
    with _leanplan(database_url, TODAY) as leanplan:
        yield leanplan


@pytest.fixture
def plan_id(app: Leanplan) -> UUID:
    return load_demo(app)


def test_the_demo_is_a_startup_plan_in_berlin_in_euros(app: Leanplan, plan_id: UUID) -> None:
    plan = app.plan(plan_id).plan
    assert (plan.name, plan.timezone, plan.currency) == (
        "Brewline — smart coffee subscriptions",
        "Europe/Berlin",
        "EUR",
    )
    assert app.plan_ids() == [plan_id]


def test_milestones_of_every_kind_with_budgets_and_three_or_four_owners(
    app: Leanplan, plan_id: UUID
) -> None:
    milestones = app.plan(plan_id).milestones
    assert set(Counter(m.kind for m in milestones)) == set(Kind)
    assert 3 <= len({m.owner for m in milestones}) <= 4
    assert sum(m.budget for m in milestones) > Decimal("50000")


def test_each_assumption_has_a_validation_milestone(app: Leanplan, plan_id: UUID) -> None:
    view = app.plan(plan_id)
    assumptions = view.plan.assumptions
    tests = {m.assumption_id: m for m in view.milestones if m.assumption_id is not None}
    assert len(assumptions) == 2
    assert set(tests) == {a.id for a in assumptions}
    assert {m.kind for m in tests.values()} == {Kind.ASSUMPTION}
    statuses = {a.id: a.status for a in assumptions}
    validated = [a for a in assumptions if a.status is AssumptionStatus.VALIDATED]
    assert len(validated) == 1 and validated[0].evidence
    assert tests[validated[0].id].status is MilestoneStatus.DONE
    assert sorted(statuses.values()) == [AssumptionStatus.UNTESTED, AssumptionStatus.VALIDATED]


def test_reviews_are_monthly_on_the_second_friday_and_one_was_held(
    app: Leanplan, plan_id: UUID
) -> None:
    view = app.plan(plan_id)
    assert view.plan.cadence.rrule == "FREQ=MONTHLY;BYDAY=2FR"
    assert [day for day, _ in view.next_reviews(TODAY)] == [
        date(2025, 4, 11),
        date(2025, 5, 9),
        date(2025, 6, 13),
    ]
    (review,) = view.plan.reviews
    assert review.held_on == date(2025, 3, 14)
    assert review.notes and len(review.decisions) >= 2


def test_history_has_reasoned_reschedules_a_costed_completion_and_a_reasoned_cancellation(
    app: Leanplan, plan_id: UUID
) -> None:
    entries = list(app.history(plan_id))
    types = Counter(entry.type for entry in entries)
    assert types["MilestoneRescheduled"] >= 3
    assert types["MilestoneCompleted"] == types["MilestoneCancelled"] == types["ReviewHeld"] == 1
    assert types["AssumptionValidated"] == 1
    reasoned = [e for e in entries if e.type in {"MilestoneRescheduled", "MilestoneCancelled"}]
    assert all(e.reason for e in reasoned)
    (completed,) = [m for m in app.plan(plan_id).milestones if m.status is MilestoneStatus.DONE]
    assert completed.actual_cost == Decimal("2180.40")
    assert completed.completed_on is not None and completed.completed_on < TODAY


def test_due_dates_are_relative_to_today(app: Leanplan, database_url: str) -> None:
    first = load_demo(app)
    with _leanplan(database_url, TODAY + timedelta(days=100)) as later:
        second = load_demo(later)
    dues = [sorted(m.due for m in app.plan(p).milestones) for p in (first, second)]
    assert [d + timedelta(days=100) for d in dues[0]] == dues[1]
    assert dues[0][0] < TODAY < dues[0][-1]


def test_the_review_report_shows_what_happened_since_the_review(
    app: Leanplan, plan_id: UUID
) -> None:
    report = app.changes(plan_id)
    assert [m.title for m in report.cancelled] == ["Native mobile app MVP"]
    assert [m.title for m in report.added] == ["Mobile web ordering (PWA)"]
    assert {s.title: s.days for s in report.rescheduled} == {
        "Letters of intent from three roasteries": 15,
        "Packaging and fulfilment with a Berlin 3PL": 7,
    }
    assert report.planned_budget_delta == Decimal("-24500.00")


def test_size_adds_generated_milestones_with_changes_and_shows_progress(app: Leanplan) -> None:
    drawn: list[tuple[str, int, int]] = []

    class Recording(Progress):
        def close(self) -> None:
            drawn.append((self.label, self.total, self.done))

    plan_id = load_demo(
        app, size=12, progress=lambda label, total: Recording(label, total, io.StringIO())
    )
    generated = [m for m in app.plan(plan_id).milestones if m.title.startswith("Workstream")]
    assert len(generated) == 12
    assert {m.kind for m in generated} == {Kind.IMPLEMENTATION}
    assert all(m.reschedule_count == 1 and m.version >= 3 for m in generated)
    assert sum(m.status is MilestoneStatus.DONE for m in generated) == 4
    assert drawn == [("demo", 12, 12)]


def test_actor_is_recorded_on_every_change(app: Leanplan) -> None:
    plan_id = load_demo(app, actor="alice")
    assert {entry.actor for entry in app.history(plan_id)} == {"alice"}


@pytest.mark.parametrize(
    ("today", "held"),
    [
        (date(2025, 3, 20), date(2025, 3, 14)),
        (date(2025, 3, 14), date(2025, 3, 14)),
        (date(2025, 3, 13), date(2025, 2, 14)),
        (date(2025, 1, 1), date(2024, 12, 13)),
        (date(2025, 8, 8), date(2025, 8, 8)),
    ],
)
def test_last_second_friday(today: date, held: date) -> None:
    assert last_second_friday(today) == held
    assert held.weekday() == 4 and 8 <= held.day <= 14
