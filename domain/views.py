"""Read-only pictures of a plan folded from its events: now, or as of any earlier moment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import UUID

from domain.errors import MilestoneNotFound, PlanNotFound
from domain.milestone import Milestone
from domain.plan import Plan
from domain.values import Kind, MilestoneStatus


@dataclass(frozen=True)
class PlanView:
    """A plan with its milestones, as of `version` (the number of events folded into it)."""

    plan: Plan
    milestones: tuple[Milestone, ...]

    @property
    def version(self) -> int:
        return self.plan.version + sum(m.version for m in self.milestones)

    @cached_property
    def _by_id(self) -> dict[UUID, Milestone]:
        """Built once per view: reports look milestones up by id thousands of times in large plans."""
        return {milestone.id: milestone for milestone in self.milestones}

    def milestone(self, milestone_id: UUID) -> Milestone:
        try:
            return self._by_id[milestone_id]
        except KeyError:
            raise MilestoneNotFound(f"no milestone {milestone_id} in this plan") from None

    def next_reviews(self, today: date, count: int = 3) -> list[tuple[date, time]]:
        horizon = date(today.year + 2, today.month, min(today.day, 28))
        return self.plan.review_dates(today, horizon)[:count]


def fold(events: Iterable[Any]) -> PlanView:
    """Replays events (in history order) into a PlanView: the state is the fold of its events."""
    aggregates: dict[UUID, Any] = {}
    for event in events:
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
    plans = [a for a in aggregates.values() if isinstance(a, Plan)]
    if not plans:
        raise PlanNotFound("the plan did not exist at that moment")
    milestones = tuple(a for a in aggregates.values() if isinstance(a, Milestone))
    return PlanView(plans[0], milestones)


@dataclass(frozen=True)
class BudgetLine:
    planned: Decimal
    actual: Decimal


@dataclass(frozen=True)
class BudgetReport:
    """Planned vs actual spend; cancelled milestones are left out, as no money is planned for them."""

    currency: str
    per_milestone: dict[UUID, BudgetLine]
    per_kind: dict[Kind, BudgetLine]
    total: BudgetLine


def budget_report(view: PlanView) -> BudgetReport:
    live = [m for m in view.milestones if m.status != MilestoneStatus.CANCELLED]
    per_milestone = {m.id: BudgetLine(m.budget, m.actual_cost or Decimal("0.00")) for m in live}
    per_kind = {}
    for kind in Kind:
        lines = [per_milestone[m.id] for m in live if m.kind == kind]
        per_kind[kind] = _sum(lines)
    return BudgetReport(view.plan.currency, per_milestone, per_kind, _sum(per_milestone.values()))


def _sum(lines: Iterable[BudgetLine]) -> BudgetLine:
    planned = actual = Decimal("0.00")
    for line in lines:
        planned += line.planned
        actual += line.actual
    return BudgetLine(planned, actual)
