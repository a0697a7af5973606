"""Plan commands, through the in-memory application: plan facts, assumptions and the review rhythm."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import Leanplan
from domain.errors import (
    AssumptionAlreadyResolved,
    AssumptionNotFound,
    DomainError,
    EvidenceRequired,
    InvalidDuration,
    InvalidInput,
    InvalidName,
    InvalidRecurrenceRule,
    InvalidStatement,
    PlanNotFound,
    ReasonRequired,
    ReviewOccurrenceNotFound,
    UnknownCurrency,
    UnknownTimeZone,
)
from domain.plan import Plan
from domain.values import AssumptionStatus, Person, ReviewCadence

# A fixed "now" (a Wednesday) so the review calendar of a new plan is known.
NOW = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
JANUARY_REVIEW = date(2025, 1, 10)
FEBRUARY_REVIEW = date(2025, 2, 14)


def stored_event_count(app: Leanplan) -> int:
    return app.recorder.max_notification_id() or 0


@contextmanager
def refused(app: Leanplan, error: type[DomainError]) -> Iterator[None]:
    """The command inside raises `error` and leaves the store exactly as it was."""
    before = stored_event_count(app)
    with pytest.raises(error):
        yield
    assert stored_event_count(app) == before


def last_event(app: Leanplan, plan_id: UUID) -> Any:
    return list(app.events.get(plan_id))[-1]


@pytest.fixture
def app() -> Iterator[Leanplan]:
    with Leanplan(clock=lambda: NOW) as application:
        yield application


@pytest.fixture
def plan_id(app: Leanplan) -> UUID:
    return app.start_plan("Launch", actor="alice")


class TestStarting:
    def test_a_new_plan_has_the_documented_defaults(self, app: Leanplan, plan_id: UUID) -> None:
        plan = app.plan(plan_id).plan
        assert (plan.name, plan.timezone, plan.currency) == ("Launch", "UTC", "USD")
        assert plan.cadence == ReviewCadence(starts_on=date(2025, 1, 1))
        assert (plan.cadence.rrule, plan.cadence.start_time, plan.cadence.duration_minutes) == (
            "FREQ=MONTHLY;BYDAY=2FR",
            time(10, 0),
            60,
        )
        assert (plan.assumptions, plan.reviews) == ([], [])
        assert app.plan_ids() == [plan_id]

    def test_records_the_actor_and_a_utc_time(self, app: Leanplan, plan_id: UUID) -> None:
        [started] = list(app.events.get(plan_id))
        assert isinstance(started, Plan.PlanStarted)
        assert (started.actor, started.reason, started.name) == ("alice", None, "Launch")
        assert started.timestamp.utcoffset() == timedelta(0)

    def test_the_plan_starts_on_today_in_its_own_time_zone(self) -> None:
        with Leanplan(clock=lambda: datetime(2025, 3, 1, 23, 30, tzinfo=UTC)) as app:
            plan_id = app.start_plan("Kiwi", actor="alice", timezone="Pacific/Auckland", currency="NZD")
            plan = app.plan(plan_id).plan
            assert (plan.timezone, plan.currency) == ("Pacific/Auckland", "NZD")
            assert plan.cadence.starts_on == date(2025, 3, 2)

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"name": " "}, InvalidName),
            ({"name": "n" * 201}, InvalidName),
            ({"timezone": "Europe/Atlantis"}, UnknownTimeZone),
            ({"timezone": "Europe"}, UnknownTimeZone),
            ({"currency": "usd"}, UnknownCurrency),
            ({"currency": "XYZ"}, UnknownCurrency),
            ({"actor": ""}, InvalidInput),
        ],
    )
    def test_invalid_settings_are_refused_and_nothing_is_stored(
        self, app: Leanplan, change: dict[str, str], error: type[DomainError]
    ) -> None:
        fields: dict[str, Any] = {"name": "Launch", "actor": "alice"} | change
        with refused(app, error):
            app.start_plan(fields.pop("name"), **fields)
        assert app.plan_ids() == []

    def test_a_custom_cadence_is_kept(self, app: Leanplan) -> None:
        cadence = ReviewCadence("FREQ=WEEKLY;BYDAY=MO", time(9, 30), 30)
        plan_id = app.start_plan("Weekly", actor="alice", cadence=cadence)
        assert app.plan(plan_id).next_reviews(date(2025, 1, 1), count=2) == [
            (date(2025, 1, 6), time(9, 30)),
            (date(2025, 1, 13), time(9, 30)),
        ]


class TestRenaming:
    def test_records_old_and_new_name(self, app: Leanplan, plan_id: UUID) -> None:
        app.rename_plan(plan_id, "  Launch v2 ", actor="bob")
        renamed = last_event(app, plan_id)
        assert isinstance(renamed, Plan.PlanRenamed)
        assert (renamed.old_name, renamed.new_name, renamed.actor) == ("Launch", "Launch v2", "bob")
        assert app.plan(plan_id).plan.name == "Launch v2"

    def test_the_same_name_appends_nothing(self, app: Leanplan, plan_id: UUID) -> None:
        before = stored_event_count(app)
        app.rename_plan(plan_id, "Launch", actor="bob")
        assert stored_event_count(app) == before

    def test_an_empty_name_is_refused(self, app: Leanplan, plan_id: UUID) -> None:
        with refused(app, InvalidName):
            app.rename_plan(plan_id, "", actor="bob")


class TestAssumptions:
    def test_adding_records_statement_test_and_criterion(self, app: Leanplan, plan_id: UUID) -> None:
        assumption_id = app.add_assumption(
            plan_id, " Teams pay monthly ", actor="alice", test="pricing page", success_criterion="5%"
        )
        added = last_event(app, plan_id)
        assert isinstance(added, Plan.AssumptionAdded)
        assert (added.assumption_id, added.statement, added.test, added.success_criterion) == (
            assumption_id,
            "Teams pay monthly",
            "pricing page",
            "5%",
        )
        assumption = app.plan(plan_id).plan.assumption(assumption_id)
        assert (assumption.status, assumption.evidence) == (AssumptionStatus.UNTESTED, "")

    @pytest.mark.parametrize("statement", ["", "   ", "s" * 10_001])
    def test_a_statement_is_required(self, app: Leanplan, plan_id: UUID, statement: str) -> None:
        with refused(app, InvalidStatement):
            app.add_assumption(plan_id, statement, actor="alice")

    def test_validating_records_the_status_change_and_evidence(self, app: Leanplan, plan_id: UUID) -> None:
        assumption_id = app.add_assumption(plan_id, "Teams pay monthly", actor="alice")
        app.validate_assumption(plan_id, assumption_id, evidence=" 7% converted ", actor="bob")
        validated = last_event(app, plan_id)
        assert isinstance(validated, Plan.AssumptionValidated)
        assert (validated.old_status, validated.new_status, validated.evidence, validated.actor) == (
            "untested",
            "validated",
            "7% converted",
            "bob",
        )
        assert app.plan(plan_id).plan.assumption(assumption_id).status is AssumptionStatus.VALIDATED

    def test_invalidating_records_the_status_change(self, app: Leanplan, plan_id: UUID) -> None:
        assumption_id = app.add_assumption(plan_id, "Teams pay monthly", actor="alice")
        app.invalidate_assumption(plan_id, assumption_id, evidence="nobody paid", actor="bob")
        invalidated = last_event(app, plan_id)
        assert isinstance(invalidated, Plan.AssumptionInvalidated)
        assert invalidated.new_status == "invalidated"
        assert app.plan(plan_id).plan.assumption(assumption_id).status is AssumptionStatus.INVALIDATED

    def test_resolving_the_same_way_twice_is_refused(self, app: Leanplan, plan_id: UUID) -> None:
        assumption_id = app.add_assumption(plan_id, "Teams pay monthly", actor="alice")
        app.validate_assumption(plan_id, assumption_id, evidence="7%", actor="bob")
        with refused(app, AssumptionAlreadyResolved):
            app.validate_assumption(plan_id, assumption_id, evidence="8%", actor="bob")

    def test_evidence_is_required(self, app: Leanplan, plan_id: UUID) -> None:
        assumption_id = app.add_assumption(plan_id, "Teams pay monthly", actor="alice")
        with refused(app, EvidenceRequired):
            app.validate_assumption(plan_id, assumption_id, evidence=" ", actor="bob")

    @pytest.mark.parametrize("resolve", [Leanplan.validate_assumption, Leanplan.invalidate_assumption])
    def test_an_unknown_assumption_raises_assumption_not_found(
        self, app: Leanplan, plan_id: UUID, resolve: Callable[..., None]
    ) -> None:
        with refused(app, AssumptionNotFound):
            resolve(app, plan_id, uuid4(), evidence="x", actor="bob")


class TestReviewCadence:
    def test_setting_records_old_and_new_rule_time_and_duration(self, app: Leanplan, plan_id: UUID) -> None:
        app.set_review_cadence(
            plan_id, rrule="FREQ=WEEKLY;BYDAY=TH", start_time=time(14, 0), duration_minutes=45, actor="bob"
        )
        changed = last_event(app, plan_id)
        assert isinstance(changed, Plan.ReviewCadenceSet)
        assert (changed.old_rrule, changed.new_rrule) == ("FREQ=MONTHLY;BYDAY=2FR", "FREQ=WEEKLY;BYDAY=TH")
        assert (changed.old_start_time, changed.new_start_time) == (time(10, 0), time(14, 0))
        assert (changed.old_duration_minutes, changed.new_duration_minutes) == (60, 45)
        assert app.plan(plan_id).next_reviews(date(2025, 1, 1), count=1) == [(date(2025, 1, 2), time(14))]

    @pytest.mark.parametrize(
        "rule",
        [
            "FREQ=SECONDLY",
            "BYDAY=2FR",
            "RRULE:FREQ=MONTHLY",
            "FREQ=MONTHLY;BYHOUR=9",
            "garbage",
            "FREQ=MONTHLY;INTERVAL=0",
        ],
    )
    def test_an_invalid_rule_is_refused(self, app: Leanplan, plan_id: UUID, rule: str) -> None:
        with refused(app, InvalidRecurrenceRule):
            app.set_review_cadence(plan_id, rrule=rule, start_time=time(10), duration_minutes=60, actor="b")

    def test_an_invalid_duration_is_refused(self, app: Leanplan, plan_id: UUID) -> None:
        with refused(app, InvalidDuration):
            app.set_review_cadence(
                plan_id, rrule="FREQ=MONTHLY", start_time=time(10), duration_minutes=0, actor="b"
            )

    def test_the_same_cadence_appends_nothing(self, app: Leanplan, plan_id: UUID) -> None:
        before = stored_event_count(app)
        app.set_review_cadence(
            plan_id, rrule=" FREQ=MONTHLY;BYDAY=2FR ", start_time=time(10), duration_minutes=60, actor="b"
        )
        assert stored_event_count(app) == before


class TestReviewOccurrences:
    def test_the_next_reviews_are_second_fridays_at_ten(self, app: Leanplan, plan_id: UUID) -> None:
        assert app.plan(plan_id).next_reviews(date(2025, 1, 1)) == [
            (JANUARY_REVIEW, time(10)),
            (FEBRUARY_REVIEW, time(10)),
            (date(2025, 3, 14), time(10)),
        ]

    def test_a_moved_occurrence_happens_on_its_new_date_and_time(self, app: Leanplan, plan_id: UUID) -> None:
        app.move_review_occurrence(
            plan_id, JANUARY_REVIEW, new_date=date(2025, 1, 13), new_time=time(15), actor="bob", reason="trip"
        )
        moved = last_event(app, plan_id)
        assert isinstance(moved, Plan.ReviewOccurrenceMoved)
        assert (moved.occurrence, moved.new_date, moved.new_time, moved.reason) == (
            JANUARY_REVIEW,
            date(2025, 1, 13),
            time(15),
            "trip",
        )
        assert app.plan(plan_id).next_reviews(date(2025, 1, 1), count=2) == [
            (date(2025, 1, 13), time(15)),
            (FEBRUARY_REVIEW, time(10)),
        ]

    def test_a_skipped_occurrence_does_not_happen(self, app: Leanplan, plan_id: UUID) -> None:
        app.skip_review_occurrence(plan_id, JANUARY_REVIEW, actor="bob", reason="holidays")
        plan = app.plan(plan_id)
        assert plan.next_reviews(date(2025, 1, 1), count=1) == [(FEBRUARY_REVIEW, time(10))]
        assert plan.plan.skipped_occurrences == {JANUARY_REVIEW: "holidays"}

    def test_moving_a_skipped_occurrence_brings_it_back(self, app: Leanplan, plan_id: UUID) -> None:
        app.skip_review_occurrence(plan_id, JANUARY_REVIEW, actor="bob", reason="holidays")
        app.move_review_occurrence(
            plan_id, JANUARY_REVIEW, new_date=date(2025, 1, 17), new_time=time(10), actor="bob"
        )
        plan = app.plan(plan_id)
        assert plan.plan.skipped_occurrences == {}
        assert plan.next_reviews(date(2025, 1, 1), count=1) == [(date(2025, 1, 17), time(10))]

    def test_skipping_needs_a_reason(self, app: Leanplan, plan_id: UUID) -> None:
        with refused(app, ReasonRequired):
            app.skip_review_occurrence(plan_id, JANUARY_REVIEW, actor="bob", reason=" ")

    @pytest.mark.parametrize("day", [date(2025, 1, 9), date(2024, 12, 13)])  # not a review / before the plan
    def test_a_date_that_is_not_an_occurrence_is_refused(
        self, app: Leanplan, plan_id: UUID, day: date
    ) -> None:
        with refused(app, ReviewOccurrenceNotFound):
            app.skip_review_occurrence(plan_id, day, actor="bob", reason="x")
        with refused(app, ReviewOccurrenceNotFound):
            app.move_review_occurrence(plan_id, day, new_date=day, new_time=time(9), actor="bob")


class TestReviewsHeld:
    def test_holding_a_review_records_date_notes_and_decisions(self, app: Leanplan, plan_id: UUID) -> None:
        app.hold_review(
            plan_id, held_on=JANUARY_REVIEW, notes="good month", decisions=("hire", " ", "ship"), actor="bob"
        )
        held = last_event(app, plan_id)
        assert isinstance(held, Plan.ReviewHeld)
        assert (held.held_on, held.notes, tuple(held.decisions), held.actor) == (
            JANUARY_REVIEW,
            "good month",
            ("hire", "ship"),
            "bob",
        )
        [review] = app.plan(plan_id).plan.reviews
        assert (review.held_on, review.decisions, review.actor) == (JANUARY_REVIEW, ("hire", "ship"), "bob")

    def test_notes_over_10000_characters_are_refused(self, app: Leanplan, plan_id: UUID) -> None:
        with refused(app, InvalidInput):
            app.hold_review(plan_id, held_on=JANUARY_REVIEW, notes="n" * 10_001, actor="bob")


@pytest.mark.parametrize(
    "command",
    [
        lambda app, p: app.rename_plan(p, "x", actor="a"),
        lambda app, p: app.add_assumption(p, "x", actor="a"),
        lambda app, p: app.validate_assumption(p, uuid4(), evidence="x", actor="a"),
        lambda app, p: app.set_review_cadence(
            p, rrule="FREQ=WEEKLY", start_time=time(9), duration_minutes=30, actor="a"
        ),
        lambda app, p: app.skip_review_occurrence(p, JANUARY_REVIEW, actor="a", reason="x"),
        lambda app, p: app.hold_review(p, held_on=JANUARY_REVIEW, notes="", actor="a"),
        lambda app, p: app.plan(p),
        lambda app, p: app.plan_as_of(p, at=NOW),
        lambda app, p: list(app.history(p)),
        lambda app, p: app.changes(p),
        lambda app, p: app.budget(p),
    ],
    ids=[
        "rename",
        "add_assumption",
        "validate",
        "cadence",
        "skip",
        "hold_review",
        "plan",
        "plan_as_of",
        "history",
        "changes",
        "budget",
    ],
)
def test_an_unknown_plan_raises_plan_not_found(
    app: Leanplan, plan_id: UUID, command: Callable[[Leanplan, UUID], object]
) -> None:
    milestone_id = app.add_milestone(
        plan_id,
        title="m",
        kind="implementation",
        due=JANUARY_REVIEW,
        budget=0,
        owner=Person("Bo", "bo@example.com"),
        actor="a",
    )
    # Neither a milestone's id nor a register's (a log of ids, not an aggregate) is a plan's.
    for wrong_id in (uuid4(), milestone_id, app.plan_register.originator_id):
        with refused(app, PlanNotFound):
            command(app, wrong_id)
