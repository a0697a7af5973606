"""Recently read plans kept in memory and brought up to date from the notification log.

A plan's view spans one Plan aggregate and every Milestone aggregate; rebuilding it means one
query per milestone. Instead the view remembers the notification position it was built at, and
a later read scans only newer notifications for the plan's own aggregates and reloads just
those: reading an unchanged plan costs one query, however many milestones it has.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any
from uuid import UUID

from domain.milestone import Milestone
from domain.plan import Plan
from domain.views import PlanView

SCAN_PAGE = 1_000


@dataclass(frozen=True)
class _Cached:
    view: PlanView
    position: int
    register_id: UUID
    registered: int


class PlanViews:
    """An LRU of plan views; the loaders come from the application."""

    def __init__(
        self,
        recorder: Any,
        load_plan: Callable[[UUID], Plan],
        load: Callable[[UUID], Any],
        milestone_ids: Callable[..., Sequence[UUID]],
        register_id: Callable[[UUID], UUID],
        size: int = 64,
    ) -> None:
        self._recorder = recorder
        self._load_plan = load_plan
        self._load = load
        self._milestone_ids = milestone_ids
        self._register_id = register_id
        self._size = size
        self._cached: OrderedDict[UUID, _Cached] = OrderedDict()
        self._lock = Lock()

    def get(self, plan_id: UUID) -> PlanView:
        with self._lock:
            cached = self._cached.get(plan_id)
            cached = self._build(plan_id) if cached is None else self._fast_forward(plan_id, cached)
            self._cached[plan_id] = cached
            self._cached.move_to_end(plan_id)
            while len(self._cached) > self._size:
                self._cached.popitem(last=False)
            return cached.view

    def _build(self, plan_id: UUID) -> _Cached:
        position = self._recorder.max_notification_id() or 0
        plan = self._load_plan(plan_id)
        ids = self._milestone_ids(plan_id)
        milestones = tuple(self._load(i) for i in ids)
        return _Cached(PlanView(plan, milestones), position, self._register_id(plan_id), len(ids))

    def _fast_forward(self, plan_id: UUID, cached: _Cached) -> _Cached:
        milestones = {m.id: m for m in cached.view.milestones}
        watched = {plan_id, cached.register_id, *milestones}
        changed: set[UUID] = set()
        position = cached.position
        while notifications := self._recorder.select_notifications(
            position, SCAN_PAGE, inclusive_of_start=False
        ):
            changed.update(n.originator_id for n in notifications if n.originator_id in watched)
            position = notifications[-1].id
        if not changed:
            return cached if position == cached.position else _replace_position(cached, position)
        plan = self._load_plan(plan_id) if plan_id in changed else cached.view.plan
        registered = cached.registered
        order = list(milestones)
        if cached.register_id in changed:
            added = self._milestone_ids(plan_id, after=registered)
            changed.update(added)
            order += added
            registered += len(added)
        for milestone_id in changed & set(order):
            milestones[milestone_id] = self._load(milestone_id)
        view = PlanView(plan, tuple(_as_milestone(milestones[i]) for i in order))
        return _Cached(view, position, cached.register_id, registered)


def _replace_position(cached: _Cached, position: int) -> _Cached:
    return _Cached(cached.view, position, cached.register_id, cached.registered)


def _as_milestone(aggregate: Any) -> Milestone:
    assert isinstance(aggregate, Milestone)
    return aggregate
