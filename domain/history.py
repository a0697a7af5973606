"""The plan's change history and the review report, derived purely from its events.

Every change event carries its old and new values (`old_x`/`new_x`), so an entry is built from
one event alone: a read side can project the history without replaying state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from domain.errors import InvalidInput
from domain.milestone import Milestone
from domain.plan import Plan
from domain.values import AssumptionStatus, MilestoneStatus, Person
from domain.views import budget_report, fold

_ENVELOPE = {
    "originator_id",
    "originator_version",
    "originator_topic",
    "timestamp",
    "actor",
    "reason",
    "plan_id",
    "assumption_id",
    "token_hash",  # a feed's secret, even hashed, is nothing a history reader needs
}


@dataclass(frozen=True)
class Change:
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    """One change to the plan, in plain values (strings, numbers, dicts) ready for any output."""

    position: int
    at: datetime
    actor: str
    type: str
    plan_id: UUID
    milestone_id: UUID | None
    assumption_id: UUID | None
    changes: dict[str, Change]
    reason: str | None


def event_type(event: Any) -> str:
    return type(event).__name__


def history_key(event: Any) -> tuple[datetime, str, int]:
    """History order: by time, ties broken deterministically so positions never depend on I/O order."""
    return (event.timestamp, event.originator_id.hex, event.originator_version)


def plain(value: Any) -> Any:
    """Turns domain values into JSON-ready ones; the one place that decides how values are shown."""
    if value is None or isinstance(value, bool | int | str) and not isinstance(value, Enum):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Person):
        return {"name": value.name, "email": value.email}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def changes_of(event: Any) -> dict[str, Change]:
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    changes: dict[str, Change] = {}
    for name, value in fields.items():
        if name in _ENVELOPE or name.startswith("new_") and f"old_{name[4:]}" in fields:
            continue  # a new_x with an old_x is shown with it; a lone new_x (new_date) as itself
        if name.startswith("old_"):
            key = name[4:]
            changes[key] = Change(plain(value), plain(fields[f"new_{key}"]))
        else:
            changes[name] = Change(None, plain(value))
    return changes


def entry_from(event: Any, position: int) -> HistoryEntry:
    is_milestone_event = isinstance(event, Milestone.Event)
    return HistoryEntry(
        position=position,
        at=event.timestamp,
        actor=event.actor,
        type=event_type(event),
        plan_id=event.plan_id,
        milestone_id=event.originator_id if is_milestone_event else None,
        assumption_id=getattr(event, "assumption_id", None),
        changes=changes_of(event),
        reason=event.reason,
    )


@dataclass(frozen=True)
class HistoryFilter:
    milestone_id: UUID | None = None
    actor: str | None = None
    types: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def admits(self, entry: HistoryEntry) -> bool:
        return (
            (self.milestone_id is None or entry.milestone_id == self.milestone_id)
            and (self.actor is None or entry.actor == self.actor)
            and (not self.types or entry.type in self.types)
            and (self.since is None or entry.at > self.since)
            and (self.until is None or entry.at <= self.until)
        )


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: int | None


def page(
    entries: Iterable[HistoryEntry], wanted: HistoryFilter, limit: int, after: int = 0
) -> HistoryPage:
    """Entries after position `after` that pass the filter; the cursor is the last position shown."""
    if limit < 1:
        raise InvalidInput("a page holds at least one entry", field="limit")
    selected: list[HistoryEntry] = []
    for entry in entries:
        if entry.position <= after or not wanted.admits(entry):
            continue
        if len(selected) == limit:
            return HistoryPage(selected, selected[-1].position)
        selected.append(entry)
    return HistoryPage(selected, None)


@dataclass(frozen=True)
class Slip:
    milestone_id: UUID
    title: str
    old_due: date
    new_due: date
    days: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ChangesReport:
    """What the monthly review works from: what moved between two moments, and why."""

    since: datetime
    until: datetime
    added: list[Milestone]
    completed: list[Milestone]
    cancelled: list[Milestone]
    rescheduled: list[Slip]
    planned_budget_before: Decimal
    planned_budget_after: Decimal
    actual_cost_before: Decimal
    actual_cost_after: Decimal
    assumptions_resolved: list[tuple[UUID, str, AssumptionStatus, str]]

    @property
    def planned_budget_delta(self) -> Decimal:
        return self.planned_budget_after - self.planned_budget_before

    @property
    def actual_cost_delta(self) -> Decimal:
        return self.actual_cost_after - self.actual_cost_before


def last_review_time(events: Sequence[Any], until: datetime) -> datetime | None:
    held = [e.timestamp for e in events if isinstance(e, Plan.ReviewHeld) and e.timestamp <= until]
    return held[-1] if held else None


def changes_between(events: Sequence[Any], since: datetime, until: datetime) -> ChangesReport:
    """Compares the plan at `since` with the plan at `until`; `events` are in history order."""
    before_events = [e for e in events if e.timestamp <= since]
    window = [e for e in events if since < e.timestamp <= until]
    after = fold(e for e in events if e.timestamp <= until)
    before_budget = budget_report(fold(before_events)).total if before_events else None
    after_budget = budget_report(after).total
    zero = Decimal("0.00")

    def milestones_with(event_class: type) -> list[Milestone]:
        ids = list(dict.fromkeys(e.originator_id for e in window if isinstance(e, event_class)))
        return [after.milestone(i) for i in ids]

    slips: dict[UUID, list[Milestone.MilestoneRescheduled]] = {}
    for event in window:
        if isinstance(event, Milestone.MilestoneRescheduled):
            slips.setdefault(event.originator_id, []).append(event)
    rescheduled = [
        Slip(
            milestone_id=milestone_id,
            title=after.milestone(milestone_id).title,
            old_due=moves[0].old_due,
            new_due=moves[-1].new_due,
            days=(moves[-1].new_due - moves[0].old_due).days,
            reasons=tuple(m.reason or "" for m in moves),
        )
        for milestone_id, moves in slips.items()
    ]
    resolved = {
        e.assumption_id: e for e in window if isinstance(e, Plan.AssumptionValidated)
    }
    return ChangesReport(
        since=since,
        until=until,
        added=milestones_with(Milestone.MilestoneAdded),
        completed=[
            m for m in milestones_with(Milestone.MilestoneCompleted) if m.status == MilestoneStatus.DONE
        ],
        cancelled=[
            m
            for m in milestones_with(Milestone.MilestoneCancelled)
            if m.status == MilestoneStatus.CANCELLED
        ],
        rescheduled=rescheduled,
        planned_budget_before=before_budget.planned if before_budget else zero,
        planned_budget_after=after_budget.planned,
        actual_cost_before=before_budget.actual if before_budget else zero,
        actual_cost_after=after_budget.actual,
        assumptions_resolved=[
            (a_id, after.plan.assumption(a_id).statement, AssumptionStatus(e.new_status), e.evidence)
            for a_id, e in resolved.items()
        ],
    )
