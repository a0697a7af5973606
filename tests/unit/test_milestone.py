"""Milestone commands, through the in-memory application: each rule, each event, nothing on refusal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import Leanplan
from domain.errors import (
    AssumptionNotFound,
    DomainError,
    InvalidBudget,
    InvalidDescription,
    InvalidInput,
    InvalidKind,
    InvalidTitle,
    MilestoneIsCancelled,
    MilestoneIsDone,
    MilestoneNotClosed,
    MilestoneNotFound,
    PlanNotFound,
    ReasonRequired,
    SameDueDate,
)
from domain.milestone import Milestone
from domain.values import Kind, MilestoneStatus, Person

OWNER = Person("Bob Builder", "bob@example.com")
OTHER_OWNER = Person("Carol Coder", "carol@example.com")
DUE = date(2030, 3, 1)


def stored_event_count(app: Leanplan) -> int:
    return app.recorder.max_notification_id() or 0


@contextmanager
def refused(app: Leanplan, error: type[DomainError]) -> Iterator[None]:
    """The command inside raises `error` and leaves the store exactly as it was."""
    before = stored_event_count(app)
    with pytest.raises(error):
        yield
    assert stored_event_count(app) == before


def events_of(app: Leanplan, aggregate_id: UUID) -> list[Any]:
    return list(app.events.get(aggregate_id))


def assert_recorded_now(event: Any, before: datetime) -> None:
    assert event.timestamp.utcoffset() == timedelta(0)
    assert before <= event.timestamp <= datetime.now(tz=UTC)


@pytest.fixture
def app() -> Iterator[Leanplan]:
    with Leanplan() as application:
        yield application


@pytest.fixture
def plan_id(app: Leanplan) -> UUID:
    return app.start_plan("Launch", actor="alice")


@pytest.fixture
def milestone_id(app: Leanplan, plan_id: UUID) -> UUID:
    return app.add_milestone(
        plan_id,
        title="Private beta",
        kind="implementation",
        due=DUE,
        budget="1000",
        owner=OWNER,
        actor="alice",
    )


@pytest.fixture
def done_id(app: Leanplan, milestone_id: UUID) -> UUID:
    app.complete(milestone_id, actor="bob", completed_on=date(2030, 2, 27), actual_cost="900.50")
    return milestone_id


@pytest.fixture
def cancelled_id(app: Leanplan, milestone_id: UUID) -> UUID:
    app.cancel(milestone_id, reason="market moved", actor="alice")
    return milestone_id


class TestAdding:
    def test_records_every_field_with_actor_and_utc_time(self, app: Leanplan, plan_id: UUID) -> None:
        before = datetime.now(tz=UTC)
        milestone_id = app.add_milestone(
            plan_id,
            title="  Interview ten customers ",
            kind="assumption",
            due=DUE,
            budget="250.5",
            owner=OWNER,
            actor="alice",
            description="Ask about the price",
        )
        [added] = events_of(app, milestone_id)
        assert isinstance(added, Milestone.MilestoneAdded)
        assert (added.actor, added.reason, added.plan_id) == ("alice", None, plan_id)
        assert (added.title, added.description, added.kind) == (
            "Interview ten customers",
            "Ask about the price",
            "assumption",
        )
        assert (added.due, added.budget, added.owner) == (DUE, Decimal("250.50"), OWNER)
        assert_recorded_now(added, before)

    def test_a_new_milestone_is_planned_and_unmoved(self, app: Leanplan, milestone_id: UUID) -> None:
        milestone = app.milestone(milestone_id)
        assert milestone.status is MilestoneStatus.PLANNED
        assert milestone.kind is Kind.IMPLEMENTATION
        assert (milestone.original_due, milestone.reschedule_count, milestone.slip_days) == (DUE, 0, 0)
        assert (milestone.completed_on, milestone.actual_cost) == (None, None)
        assert app.milestone_ids(app.milestone(milestone_id).plan_id) == [milestone_id]

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"title": ""}, InvalidTitle),
            ({"title": "t" * 201}, InvalidTitle),
            ({"description": "d" * 10_001}, InvalidDescription),
            ({"kind": "task"}, InvalidKind),
            ({"budget": "-1"}, InvalidBudget),
            ({"budget": "10.001"}, InvalidBudget),
            ({"budget": "NaN"}, InvalidBudget),
            ({"actor": " "}, InvalidInput),
        ],
    )
    def test_invalid_input_is_refused_and_nothing_is_stored(
        self, app: Leanplan, plan_id: UUID, change: dict[str, str], error: type[DomainError]
    ) -> None:
        fields: dict[str, Any] = {
            "title": "Beta",
            "kind": "implementation",
            "due": DUE,
            "budget": "10",
            "owner": OWNER,
            "actor": "alice",
        }
        with refused(app, error):
            app.add_milestone(plan_id, **(fields | change))
        assert app.milestone_ids(plan_id) == []

    def test_adding_to_an_unknown_plan_raises_plan_not_found(self, app: Leanplan) -> None:
        with refused(app, PlanNotFound):
            app.add_milestone(
                uuid4(), title="Beta", kind="implementation", due=DUE, budget=0, owner=OWNER, actor="a"
            )

    def test_testing_an_unknown_assumption_raises_assumption_not_found(
        self, app: Leanplan, plan_id: UUID
    ) -> None:
        other_plan = app.start_plan("Other", actor="alice")
        foreign = app.add_assumption(other_plan, "Someone else's belief", actor="alice")
        for assumption_id in (uuid4(), foreign):
            with refused(app, AssumptionNotFound):
                app.add_milestone(
                    plan_id,
                    title="Test it",
                    kind="assumption",
                    due=DUE,
                    budget=0,
                    owner=OWNER,
                    actor="alice",
                    assumption_id=assumption_id,
                )

    def test_a_milestone_can_name_the_assumption_it_tests(self, app: Leanplan, plan_id: UUID) -> None:
        assumption_id = app.add_assumption(plan_id, "Teams pay monthly", actor="alice")
        milestone_id = app.add_milestone(
            plan_id,
            title="Pricing page test",
            kind="assumption",
            due=DUE,
            budget=0,
            owner=OWNER,
            actor="alice",
            assumption_id=assumption_id,
        )
        assert app.milestone(milestone_id).assumption_id == assumption_id


class TestRescheduling:
    def test_records_old_and_new_due_date_reason_actor_and_time(
        self, app: Leanplan, milestone_id: UUID
    ) -> None:
        before = datetime.now(tz=UTC)
        app.reschedule(milestone_id, date(2030, 3, 15), reason="  supplier late ", actor="bob")
        moved = events_of(app, milestone_id)[-1]
        assert isinstance(moved, Milestone.MilestoneRescheduled)
        assert (moved.old_due, moved.new_due) == (DUE, date(2030, 3, 15))
        assert (moved.reason, moved.actor) == ("supplier late", "bob")
        assert_recorded_now(moved, before)

    def test_counts_reschedules_and_net_days_slipped_from_the_original_date(
        self, app: Leanplan, milestone_id: UUID
    ) -> None:
        app.reschedule(milestone_id, date(2030, 3, 11), reason="late", actor="bob")
        app.reschedule(milestone_id, date(2030, 3, 21), reason="later", actor="bob")
        app.reschedule(milestone_id, date(2030, 3, 6), reason="pulled in", actor="bob")
        milestone = app.milestone(milestone_id)
        assert (milestone.original_due, milestone.due) == (DUE, date(2030, 3, 6))
        assert (milestone.reschedule_count, milestone.slip_days) == (3, 5)
        assert milestone.last_reschedule_reason == "pulled in"

    def test_pulling_a_milestone_in_gives_negative_slip(self, app: Leanplan, milestone_id: UUID) -> None:
        app.reschedule(milestone_id, DUE - timedelta(days=7), reason="ahead", actor="bob")
        assert app.milestone(milestone_id).slip_days == -7

    def test_rescheduling_to_the_same_date_is_refused(self, app: Leanplan, milestone_id: UUID) -> None:
        with refused(app, SameDueDate):
            app.reschedule(milestone_id, DUE, reason="no change", actor="bob")

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_a_reason_is_required(self, app: Leanplan, milestone_id: UUID, reason: str) -> None:
        with refused(app, ReasonRequired):
            app.reschedule(milestone_id, date(2030, 4, 1), reason=reason, actor="bob")

    def test_a_done_milestone_cannot_be_rescheduled_without_reopening(
        self, app: Leanplan, done_id: UUID
    ) -> None:
        with refused(app, MilestoneIsDone):
            app.reschedule(done_id, date(2030, 4, 1), reason="more work", actor="bob")
        app.reopen(done_id, reason="bug found", actor="bob")
        app.reschedule(done_id, date(2030, 4, 1), reason="more work", actor="bob")
        assert app.milestone(done_id).due == date(2030, 4, 1)

    def test_a_cancelled_milestone_cannot_be_rescheduled(self, app: Leanplan, cancelled_id: UUID) -> None:
        with refused(app, MilestoneIsCancelled):
            app.reschedule(cancelled_id, date(2030, 4, 1), reason="revived", actor="bob")


class TestCompleting:
    def test_records_completion_date_actual_cost_note_and_status_change(
        self, app: Leanplan, milestone_id: UUID
    ) -> None:
        app.complete(
            milestone_id, actor="bob", completed_on=date(2030, 2, 27), actual_cost="900.5", note="shipped"
        )
        done = events_of(app, milestone_id)[-1]
        assert isinstance(done, Milestone.MilestoneCompleted)
        assert (done.old_status, done.new_status) == ("planned", "done")
        assert (done.completed_on, done.actual_cost, done.note) == (
            date(2030, 2, 27),
            Decimal("900.50"),
            "shipped",
        )
        assert (done.actor, done.reason) == ("bob", None)
        milestone = app.milestone(milestone_id)
        assert (milestone.status, milestone.actual_cost) == (MilestoneStatus.DONE, Decimal("900.50"))

    def test_without_a_date_it_is_done_today_in_the_plans_time_zone(self) -> None:
        late_evening_in_utc = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
        with Leanplan(clock=lambda: late_evening_in_utc) as app:
            plan_id = app.start_plan("Kiwi", actor="alice", timezone="Pacific/Auckland")
            milestone_id = app.add_milestone(
                plan_id, title="Beta", kind="implementation", due=DUE, budget=0, owner=OWNER, actor="a"
            )
            app.complete(milestone_id, actor="bob")
            assert app.milestone(milestone_id).completed_on == date(2025, 3, 2)

    def test_completing_a_cancelled_milestone_is_refused(self, app: Leanplan, cancelled_id: UUID) -> None:
        with refused(app, MilestoneIsCancelled):
            app.complete(cancelled_id, actor="bob", completed_on=DUE)

    def test_completing_twice_is_refused(self, app: Leanplan, done_id: UUID) -> None:
        with refused(app, MilestoneIsDone):
            app.complete(done_id, actor="bob", completed_on=DUE)

    @pytest.mark.parametrize("cost", ["-5", "1.001", "lots"])
    def test_an_invalid_actual_cost_is_refused_naming_the_field(
        self, app: Leanplan, milestone_id: UUID, cost: str
    ) -> None:
        with refused(app, InvalidBudget):
            app.complete(milestone_id, actor="bob", completed_on=DUE, actual_cost=cost)
        with pytest.raises(InvalidBudget) as caught:
            app.complete(milestone_id, actor="bob", completed_on=DUE, actual_cost=cost)
        assert caught.value.field == "actual_cost"


class TestReopening:
    def test_reopening_a_done_milestone_clears_its_completion(self, app: Leanplan, done_id: UUID) -> None:
        app.reopen(done_id, reason="bug found", actor="bob")
        reopened = events_of(app, done_id)[-1]
        assert isinstance(reopened, Milestone.MilestoneReopened)
        assert (reopened.old_status, reopened.new_status, reopened.reason) == ("done", "planned", "bug found")
        milestone = app.milestone(done_id)
        assert milestone.status is MilestoneStatus.PLANNED
        assert (milestone.completed_on, milestone.actual_cost, milestone.completion_note) == (None, None, "")

    def test_reopening_a_cancelled_milestone_makes_it_planned(
        self, app: Leanplan, cancelled_id: UUID
    ) -> None:
        app.reopen(cancelled_id, reason="back on", actor="alice")
        milestone = app.milestone(cancelled_id)
        assert (milestone.status, milestone.cancelled_at) == (MilestoneStatus.PLANNED, None)
        assert events_of(app, cancelled_id)[-1].old_status == "cancelled"

    def test_reopening_a_planned_milestone_is_refused(self, app: Leanplan, milestone_id: UUID) -> None:
        with refused(app, MilestoneNotClosed):
            app.reopen(milestone_id, reason="why not", actor="bob")

    @pytest.mark.parametrize("reason", ["", " \t"])
    def test_a_reason_is_required(self, app: Leanplan, done_id: UUID, reason: str) -> None:
        with refused(app, ReasonRequired):
            app.reopen(done_id, reason=reason, actor="bob")


class TestCancelling:
    def test_records_the_reason_and_the_moment(self, app: Leanplan, milestone_id: UUID) -> None:
        app.cancel(milestone_id, reason="market moved", actor="alice")
        cancelled = events_of(app, milestone_id)[-1]
        assert isinstance(cancelled, Milestone.MilestoneCancelled)
        assert (cancelled.old_status, cancelled.new_status) == ("planned", "cancelled")
        assert (cancelled.reason, cancelled.actor) == ("market moved", "alice")
        milestone = app.milestone(milestone_id)
        assert (milestone.status, milestone.cancelled_at) == (MilestoneStatus.CANCELLED, cancelled.timestamp)

    @pytest.mark.parametrize("reason", ["", "  "])
    def test_a_reason_is_required(self, app: Leanplan, milestone_id: UUID, reason: str) -> None:
        with refused(app, ReasonRequired):
            app.cancel(milestone_id, reason=reason, actor="alice")

    def test_cancelling_twice_is_refused(self, app: Leanplan, cancelled_id: UUID) -> None:
        with refused(app, MilestoneIsCancelled):
            app.cancel(cancelled_id, reason="again", actor="alice")

    def test_cancelling_a_done_milestone_is_refused(self, app: Leanplan, done_id: UUID) -> None:
        with refused(app, MilestoneIsDone):
            app.cancel(done_id, reason="never mind", actor="alice")

    @pytest.mark.parametrize(
        "command",
        [
            lambda app, m: app.reassign(m, OTHER_OWNER, actor="alice"),
            lambda app, m: app.change_budget(m, "5", reason="cheaper", actor="alice"),
            lambda app, m: app.retitle(m, "New title", actor="alice"),
            lambda app, m: app.describe(m, "New text", actor="alice"),
        ],
        ids=["reassign", "change_budget", "retitle", "describe"],
    )
    def test_a_cancelled_milestone_refuses_edits_until_reopened(
        self, app: Leanplan, cancelled_id: UUID, command: Callable[[Leanplan, UUID], None]
    ) -> None:
        with refused(app, MilestoneIsCancelled):
            command(app, cancelled_id)
        app.reopen(cancelled_id, reason="back on", actor="alice")
        command(app, cancelled_id)
        assert app.milestone(cancelled_id).version == 4


class TestBudget:
    def test_records_old_and_new_budget_with_reason(self, app: Leanplan, milestone_id: UUID) -> None:
        app.change_budget(milestone_id, "1250.75", reason="extra licence", actor="alice")
        changed = events_of(app, milestone_id)[-1]
        assert isinstance(changed, Milestone.MilestoneBudgetChanged)
        assert (changed.old_budget, changed.new_budget) == (Decimal("1000.00"), Decimal("1250.75"))
        assert (changed.reason, changed.actor) == ("extra licence", "alice")
        assert app.milestone(milestone_id).budget == Decimal("1250.75")

    @pytest.mark.parametrize("budget", ["-0.01", "-100", "12.345", "NaN"])
    def test_an_invalid_budget_is_refused(self, app: Leanplan, milestone_id: UUID, budget: str) -> None:
        with refused(app, InvalidBudget):
            app.change_budget(milestone_id, budget, reason="oops", actor="alice")

    def test_a_reason_is_required(self, app: Leanplan, milestone_id: UUID) -> None:
        with refused(app, ReasonRequired):
            app.change_budget(milestone_id, "2000", reason="", actor="alice")

    def test_the_same_budget_appends_nothing(self, app: Leanplan, milestone_id: UUID) -> None:
        before = stored_event_count(app)
        app.change_budget(milestone_id, "1000.00", reason="checked", actor="alice")
        assert stored_event_count(app) == before


class TestEditing:
    def test_reassigning_records_old_and_new_owner_and_an_optional_reason(
        self, app: Leanplan, milestone_id: UUID
    ) -> None:
        app.reassign(milestone_id, OTHER_OWNER, actor="alice", reason="Bob on leave")
        changed = events_of(app, milestone_id)[-1]
        assert isinstance(changed, Milestone.MilestoneReassigned)
        assert (changed.old_owner, changed.new_owner, changed.reason) == (OWNER, OTHER_OWNER, "Bob on leave")
        assert app.milestone(milestone_id).owner == OTHER_OWNER

    def test_retitling_and_describing_record_old_and_new_text(
        self, app: Leanplan, milestone_id: UUID
    ) -> None:
        app.retitle(milestone_id, "Public beta", actor="alice")
        app.describe(milestone_id, "Open to everyone", actor="alice")
        retitled, described = events_of(app, milestone_id)[-2:]
        assert (retitled.old_title, retitled.new_title) == ("Private beta", "Public beta")
        assert (described.old_description, described.new_description) == ("", "Open to everyone")

    def test_an_optional_reason_is_stripped_and_a_blank_one_recorded_as_none(
        self, app: Leanplan, milestone_id: UUID
    ) -> None:
        app.retitle(milestone_id, "Public beta", actor="alice", reason="  clearer  ")
        app.reassign(milestone_id, OTHER_OWNER, actor="alice", reason="   ")
        retitled, reassigned = events_of(app, milestone_id)[-2:]
        assert (retitled.reason, reassigned.reason) == ("clearer", None)

    def test_unchanged_values_append_nothing(self, app: Leanplan, milestone_id: UUID) -> None:
        before = stored_event_count(app)
        app.reassign(milestone_id, OWNER, actor="alice")
        app.retitle(milestone_id, " Private beta ", actor="alice")
        app.describe(milestone_id, "", actor="alice")
        assert stored_event_count(app) == before

    def test_invalid_text_is_refused(self, app: Leanplan, milestone_id: UUID) -> None:
        with refused(app, InvalidTitle):
            app.retitle(milestone_id, " ", actor="alice")
        with refused(app, InvalidDescription):
            app.describe(milestone_id, "d" * 10_001, actor="alice")

    def test_a_blank_actor_is_refused(self, app: Leanplan, milestone_id: UUID) -> None:
        with refused(app, InvalidInput):
            app.reschedule(milestone_id, date(2030, 5, 1), reason="late", actor="")

    def test_the_calendar_sequence_counts_changes_after_creation(
        self, app: Leanplan, milestone_id: UUID
    ) -> None:
        app.retitle(milestone_id, "Public beta", actor="alice")
        app.reschedule(milestone_id, date(2030, 5, 1), reason="late", actor="alice")
        assert app.milestone(milestone_id).sequence == 2


@pytest.mark.parametrize(
    "command",
    [
        lambda app, m: app.reschedule(m, DUE, reason="r", actor="a"),
        lambda app, m: app.reassign(m, OWNER, actor="a"),
        lambda app, m: app.change_budget(m, "1", reason="r", actor="a"),
        lambda app, m: app.retitle(m, "t", actor="a"),
        lambda app, m: app.describe(m, "d", actor="a"),
        lambda app, m: app.complete(m, actor="a", completed_on=DUE),
        lambda app, m: app.reopen(m, reason="r", actor="a"),
        lambda app, m: app.cancel(m, reason="r", actor="a"),
        lambda app, m: app.milestone(m),
    ],
    ids=[
        "reschedule",
        "reassign",
        "change_budget",
        "retitle",
        "describe",
        "complete",
        "reopen",
        "cancel",
        "get",
    ],
)
def test_an_unknown_milestone_raises_milestone_not_found(
    app: Leanplan, plan_id: UUID, command: Callable[[Leanplan, UUID], object]
) -> None:
    # Neither a plan's id nor a register's (a log of ids, not an aggregate) is a milestone's.
    for wrong_id in (uuid4(), plan_id, app.plan_register.originator_id):
        with refused(app, MilestoneNotFound):
            command(app, wrong_id)
