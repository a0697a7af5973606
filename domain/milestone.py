"""The Milestone aggregate: one commitment of the plan and every change made to it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain import values
from domain.calendar_links import CalendarLink, Winner
from domain.errors import MilestoneIsCancelled, MilestoneIsDone, MilestoneNotClosed, SameDueDate
from domain.values import Kind, MilestoneStatus, Person


class Milestone(Aggregate):
    """A dated, budgeted, owned step of the plan."""

    class Event(Aggregate.Event):
        actor: str
        reason: str | None
        plan_id: UUID

    class MilestoneAdded(Event, Aggregate.Created):
        """Version 2 added `description` and `assumption_id`; version 1 events had neither."""

        class_version = 2

        title: str
        description: str
        kind: str
        due: date
        budget: Decimal
        owner: Person
        assumption_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("description", "")
            state.setdefault("assumption_id", None)

    class MilestoneRescheduled(Event):
        old_due: date
        new_due: date

        def apply(self, milestone: Milestone) -> None:
            milestone.due = self.new_due
            milestone.reschedule_count += 1
            milestone.last_reschedule_reason = self.reason

    class MilestoneReassigned(Event):
        old_owner: Person
        new_owner: Person

        def apply(self, milestone: Milestone) -> None:
            milestone.owner = self.new_owner

    class MilestoneBudgetChanged(Event):
        old_budget: Decimal
        new_budget: Decimal

        def apply(self, milestone: Milestone) -> None:
            milestone.budget = self.new_budget

    class MilestoneRetitled(Event):
        old_title: str
        new_title: str

        def apply(self, milestone: Milestone) -> None:
            milestone.title = self.new_title

    class MilestoneDescribed(Event):
        old_description: str
        new_description: str

        def apply(self, milestone: Milestone) -> None:
            milestone.description = self.new_description

    class MilestoneCompleted(Event):
        old_status: str
        new_status: str
        completed_on: date
        actual_cost: Decimal | None
        note: str

        def apply(self, milestone: Milestone) -> None:
            milestone.status = MilestoneStatus.DONE
            milestone.completed_on = self.completed_on
            milestone.actual_cost = self.actual_cost
            milestone.completion_note = self.note

    class MilestoneReopened(Event):
        old_status: str
        new_status: str

        def apply(self, milestone: Milestone) -> None:
            milestone.status = MilestoneStatus.PLANNED
            milestone.completed_on = None
            milestone.actual_cost = None
            milestone.completion_note = ""
            milestone.cancelled_at = None

    class MilestoneCancelled(Event):
        old_status: str
        new_status: str

        def apply(self, milestone: Milestone) -> None:
            milestone.status = MilestoneStatus.CANCELLED
            milestone.cancelled_at = self.timestamp

    class CalendarConflictResolved(Event):
        """Both sides moved the date since the last sync; see domain.calendar_links."""

        link_id: UUID
        plan_due: date
        calendar_due: date
        winner: str

    class CalendarDeletionNoted(Event):
        link_id: UUID

    class CalendarEditOverwritten(Event):
        link_id: UUID
        fields: tuple[str, ...]

    def __init__(
        self,
        plan_id: UUID,
        title: str,
        description: str,
        kind: str,
        due: date,
        budget: Decimal,
        owner: Person,
        assumption_id: UUID | None,
    ) -> None:
        self.plan_id = plan_id
        self.title = title
        self.description = description
        self.kind = Kind(kind)
        self.due = due
        self.original_due = due
        self.budget = budget
        self.owner = owner
        self.assumption_id = assumption_id
        self.status = MilestoneStatus.PLANNED
        self.completed_on: date | None = None
        self.actual_cost: Decimal | None = None
        self.completion_note = ""
        self.cancelled_at: Any = None
        self.reschedule_count = 0
        self.last_reschedule_reason: str | None = None

    @classmethod
    def add(
        cls,
        plan_id: UUID,
        *,
        title: str,
        kind: str,
        due: date,
        budget: Decimal | str | int,
        owner: Person,
        actor: str,
        description: str = "",
        assumption_id: UUID | None = None,
    ) -> Milestone:
        return cls._create(
            cls.MilestoneAdded,
            id=uuid4(),
            plan_id=plan_id,
            actor=values.actor(actor),
            reason=None,
            title=values.title(title),
            description=values.description(description),
            kind=values.kind(kind).value,
            due=due,
            budget=values.money(budget),
            owner=owner,
            assumption_id=assumption_id,
        )

    @property
    def slip_days(self) -> int:
        """Net days the due date moved since the milestone was added (negative: pulled in)."""
        return (self.due - self.original_due).days

    @property
    def sequence(self) -> int:
        """Calendar SEQUENCE: every change after creation is something a calendar shows."""
        return self.version - 1

    def reschedule(self, new_due: date, *, reason: str, actor: str) -> None:
        self._require_planned()
        if new_due == self.due:
            raise SameDueDate(f"the milestone is already due on {new_due.isoformat()}")
        self._record(
            self.MilestoneRescheduled,
            actor,
            reason=values.reason(reason),
            old_due=self.due,
            new_due=new_due,
        )

    def reassign(self, owner: Person, *, actor: str, reason: str | None = None) -> None:
        self._require_not_cancelled()
        if owner != self.owner:
            self._record(
                self.MilestoneReassigned, actor, reason=reason, old_owner=self.owner, new_owner=owner
            )

    def change_budget(self, budget: Decimal | str | int, *, reason: str, actor: str) -> None:
        self._require_not_cancelled()
        new_budget = values.money(budget)
        if new_budget != self.budget:
            self._record(
                self.MilestoneBudgetChanged,
                actor,
                reason=values.reason(reason),
                old_budget=self.budget,
                new_budget=new_budget,
            )

    def retitle(self, title: str, *, actor: str, reason: str | None = None) -> None:
        self._require_not_cancelled()
        new_title = values.title(title)
        if new_title != self.title:
            self._record(
                self.MilestoneRetitled, actor, reason=reason, old_title=self.title, new_title=new_title
            )

    def describe(self, description: str, *, actor: str, reason: str | None = None) -> None:
        self._require_not_cancelled()
        new_description = values.description(description)
        if new_description != self.description:
            self._record(
                self.MilestoneDescribed,
                actor,
                reason=reason,
                old_description=self.description,
                new_description=new_description,
            )

    def complete(
        self,
        *,
        completed_on: date,
        actor: str,
        actual_cost: Decimal | str | int | None = None,
        note: str = "",
    ) -> None:
        self._require_planned()
        self._record(
            self.MilestoneCompleted,
            actor,
            old_status=self.status.value,
            new_status=MilestoneStatus.DONE.value,
            completed_on=completed_on,
            actual_cost=None if actual_cost is None else values.money(actual_cost, "actual_cost"),
            note=values.description(note),
        )

    def reopen(self, *, reason: str, actor: str) -> None:
        if self.status == MilestoneStatus.PLANNED:
            raise MilestoneNotClosed("the milestone is neither done nor cancelled")
        self._record(
            self.MilestoneReopened,
            actor,
            reason=values.reason(reason),
            old_status=self.status.value,
            new_status=MilestoneStatus.PLANNED.value,
        )

    def cancel(self, *, reason: str, actor: str) -> None:
        self._require_planned()
        self._record(
            self.MilestoneCancelled,
            actor,
            reason=values.reason(reason),
            old_status=self.status.value,
            new_status=MilestoneStatus.CANCELLED.value,
        )

    def note_calendar_conflict(
        self, link: CalendarLink, *, plan_due: date, calendar_due: date, winner: Winner
    ) -> None:
        self._record(
            self.CalendarConflictResolved, link.actor,
            reason=f"moved in the plan and in calendar {link.name}; the {winner.value} won",
            link_id=link.id, plan_due=plan_due, calendar_due=calendar_due, winner=winner.value,
        )  # fmt: skip

    def note_calendar_deletion(self, link: CalendarLink) -> None:
        self._record(
            self.CalendarDeletionNoted, link.actor,
            reason=f"deleted in calendar {link.name}; the plan keeps it and puts it back",
            link_id=link.id,
        )  # fmt: skip

    def note_calendar_edit(self, link: CalendarLink, *, fields: tuple[str, ...]) -> None:
        self._record(
            self.CalendarEditOverwritten, link.actor,
            reason=f"edited in calendar {link.name}; the plan decides these, so they are restored",
            link_id=link.id, fields=fields,
        )  # fmt: skip

    def _require_not_cancelled(self) -> None:
        if self.status == MilestoneStatus.CANCELLED:
            raise MilestoneIsCancelled("the milestone is cancelled; reopen it first")

    def _require_planned(self) -> None:
        self._require_not_cancelled()
        if self.status == MilestoneStatus.DONE:
            raise MilestoneIsDone("the milestone is done; reopen it first")

    def _record(
        self, event_class: type[Milestone.Event], actor: str, *, reason: str | None = None, **fields: Any
    ) -> None:
        self.trigger_event(
            event_class,
            actor=values.actor(actor),
            reason=(reason or "").strip() or None,  # an optional reason left blank was not given
            plan_id=self.plan_id,
            # Never before the last change: history and time travel order events by time, and a
            # clock that steps back (NTP, a second server lagging) must not reorder them.
            timestamp=max(event_class.create_timestamp(), self.modified_on),
            **fields,
        )
