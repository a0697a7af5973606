"""The leanplan application: a thin layer of commands and queries over the plan's aggregates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application, EventSourcedLog
from eventsourcing.domain import CanMutateProtocol, DomainEvent
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from domain import values
from domain.errors import (
    AccessDenied,
    ConcurrentChange,
    FeedNotFound,
    InvalidInput,
    MemberNotFound,
    MilestoneNotFound,
    PlanNotFound,
    UserExists,
    UserNotFound,
)
from domain.history import (
    ChangesReport,
    HistoryEntry,
    HistoryFilter,
    HistoryPage,
    changes_between,
    entry_from,
    history_key,
    last_review_time,
    page,
)
from domain.milestone import Milestone
from domain.plan import Feed, Plan, Role
from domain.plan_views import PlanViews
from domain.users import User, user_id
from domain.values import Person, ReviewCadence
from domain.views import BudgetReport, PlanView, budget_report, fold

_REGISTERS = UUID("6c1f3c1e-5d0b-4f7e-9a51-3c2b8f0e7a10")
_ATTEMPTS = 3
T = TypeVar("T")


class PlanRegistered(DomainEvent):
    """Lists a plan in the global register, so every plan can be found."""

    plan_id: UUID


class MilestoneRegistered(DomainEvent):
    """Lists a milestone in its plan's register, so the plan can find all its milestones."""

    milestone_id: UUID


class FeedIndexed(DomainEvent):
    """Files a feed under its token's hash: a fetch finds the plan with one read, scanning none."""

    plan_id: UUID
    feed_id: UUID


def _aggregate_or_none(aggregate: Any, events: Iterable[Any]) -> Any:
    """Folds an aggregate's events; None for a log's (a register's), so its id is "not found".

    The library's own projector asserts instead, and register ids are easy to guess.
    """
    for event in events:
        if not isinstance(event, CanMutateProtocol):
            return None
        aggregate = event.mutate(aggregate)
    return aggregate


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class TimeAsISO(Transcoding):
    type = time
    name = "time_iso"

    def encode(self, obj: time) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> time:
        return time.fromisoformat(data)


class PersonAsDict(Transcoding):
    type = Person
    name = "person"

    def encode(self, obj: Person) -> dict[str, str]:
        return {"name": obj.name, "email": obj.email}

    def decode(self, data: dict[str, str]) -> Person:
        return Person(data["name"], data["email"])


class TupleAsList(Transcoding):
    type = tuple
    name = "tuple"

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(data)


class Leanplan(Application):
    """Commands return ids or nothing, milestone commands the milestone as saved; queries return
    views. Storage errors become domain errors."""

    name = "Leanplan"
    env = {"AGGREGATE_CACHE_MAXSIZE": "20000"}  # cached aggregates are fast-forwarded on every get

    def __init__(
        self, env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(env)
        self._clock = clock or (lambda: datetime.now(tz=UTC))
        self.plan_register = EventSourcedLog(self.events, uuid5(_REGISTERS, "plans"), PlanRegistered)
        self._views = PlanViews(
            self.recorder,
            load_plan=self._plan,
            load=self.repository.get,
            milestone_ids=self.milestone_ids,
            register_id=lambda plan_id: self._milestone_register(plan_id).originator_id,
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for transcoding in (DateAsISO(), TimeAsISO(), PersonAsDict(), TupleAsList()):
            transcoder.register(transcoding)

    def _feed_index(self, token_hash: str) -> EventSourcedLog[FeedIndexed]:
        return EventSourcedLog(self.events, uuid5(_REGISTERS, f"feed/{token_hash}"), FeedIndexed)

    def _milestone_register(self, plan_id: UUID) -> EventSourcedLog[MilestoneRegistered]:
        return EventSourcedLog(self.events, uuid5(plan_id, "milestones"), MilestoneRegistered)

    # Commands on the plan.

    def start_plan(
        self,
        name: str,
        *,
        actor: str,
        timezone: str = "UTC",
        currency: str = "USD",
        cadence: ReviewCadence | None = None,
    ) -> UUID:
        starts_on = self._today(values.timezone(timezone))

        def start() -> UUID:
            plan = Plan.start(
                name,
                actor=actor,
                starts_on=starts_on,
                timezone=timezone,
                currency=currency,
                cadence=cadence,
            )
            self._save(plan, self.plan_register.trigger_event(plan_id=plan.id))
            return plan.id

        return self._retrying(start)

    def rename_plan(self, plan_id: UUID, name: str, *, actor: str) -> None:
        self._change_plan(plan_id, lambda plan: plan.rename(name, actor=actor))

    def add_assumption(
        self, plan_id: UUID, statement: str, *, actor: str, test: str = "", success_criterion: str = ""
    ) -> UUID:
        return self._change_plan(
            plan_id,
            lambda plan: plan.add_assumption(
                statement, actor=actor, test=test, success_criterion=success_criterion
            ),
        )

    def validate_assumption(self, plan_id: UUID, assumption_id: UUID, *, evidence: str, actor: str) -> None:
        self._change_plan(
            plan_id, lambda plan: plan.validate_assumption(assumption_id, evidence=evidence, actor=actor)
        )

    def invalidate_assumption(
        self, plan_id: UUID, assumption_id: UUID, *, evidence: str, actor: str
    ) -> None:
        self._change_plan(
            plan_id, lambda plan: plan.invalidate_assumption(assumption_id, evidence=evidence, actor=actor)
        )

    def set_review_cadence(
        self, plan_id: UUID, *, rrule: str, start_time: time, duration_minutes: int, actor: str
    ) -> None:
        self._change_plan(
            plan_id,
            lambda plan: plan.set_review_cadence(
                rrule=rrule, start_time=start_time, duration_minutes=duration_minutes, actor=actor
            ),
        )

    def move_review_occurrence(
        self,
        plan_id: UUID,
        occurrence: date,
        *,
        new_date: date,
        new_time: time,
        actor: str,
        reason: str | None = None,
    ) -> None:
        self._change_plan(
            plan_id,
            lambda plan: plan.move_review_occurrence(
                occurrence, new_date=new_date, new_time=new_time, actor=actor, reason=reason
            ),
        )

    def skip_review_occurrence(self, plan_id: UUID, occurrence: date, *, actor: str, reason: str) -> None:
        self._change_plan(
            plan_id, lambda plan: plan.skip_review_occurrence(occurrence, actor=actor, reason=reason)
        )

    def hold_review(
        self,
        plan_id: UUID,
        *,
        held_on: date,
        notes: str,
        actor: str,
        decisions: tuple[str, ...] = (),
    ) -> None:
        self._change_plan(
            plan_id, lambda plan: plan.hold_review(held_on, notes=notes, decisions=decisions, actor=actor)
        )

    # Membership.

    def add_member(self, plan_id: UUID, user: str, role: str, *, actor: str) -> None:
        """Adds an existing user to the plan as editor or viewer, or changes their role."""
        try:
            name = self.user(user).name
        except UserNotFound:
            raise InvalidInput(f"no user is named {user!r}", field="user") from None
        self._change_plan(plan_id, lambda plan: plan.add_member(name, role, actor=actor))

    def remove_member(self, plan_id: UUID, user: str, *, actor: str) -> None:
        try:
            name = self.user(user).name
        except UserNotFound:
            raise MemberNotFound(f"{user} is not a member of this plan") from None
        self._change_plan(plan_id, lambda plan: plan.remove_member(name, actor=actor))

    def authorize(self, plan_id: UUID, user: str, needed: Role = Role.VIEWER) -> Plan:
        """The plan, if `user` may act on it as `needed`.

        A non-member is told the plan does not exist, so plan ids cannot be probed; a member whose
        role falls short gets AccessDenied.
        """
        plan = self._plan(plan_id)
        role = plan.role_of(user)
        if role is None:
            raise PlanNotFound(f"no plan {plan_id}")
        if not role.includes(needed):
            raise AccessDenied(f"a {role.value} of this plan may not do this")
        return plan

    def plans_of(self, user: str) -> list[Plan]:
        """The plans `user` is a member of."""
        return [plan for plan in self.plans() if plan.role_of(user) is not None]

    # Feeds.

    def create_feed(
        self,
        plan_id: UUID,
        name: str,
        *,
        token_hash: str,
        actor: str,
        owner_email: str | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> UUID:
        """Records the feed in the plan's history and files it under its token hash, in one save."""
        plan = self._plan(plan_id)
        feed_id = plan.create_feed(
            name, token_hash=token_hash, actor=actor, owner_email=owner_email, kinds=kinds
        )
        filed = self._feed_index(token_hash).trigger_event(
            next_originator_version=1, plan_id=plan_id, feed_id=feed_id
        )
        self._save(plan, filed)
        return feed_id

    def revoke_feed(self, plan_id: UUID, feed_id: UUID, *, actor: str) -> None:
        self._change_plan(plan_id, lambda plan: plan.revoke_feed(feed_id, actor=actor))

    def feed_by_token_hash(self, token_hash: str) -> tuple[Plan, Feed]:
        """The live feed filed under the hash, with its plan; FeedNotFound for unknown or revoked.

        The filing outlives a revocation; the plan, which holds only live feeds, has the last word.
        """
        filed = self._feed_index(token_hash).get_first()
        if filed is None:
            raise FeedNotFound("no such feed")
        try:
            plan = self._plan(filed.plan_id)
        except PlanNotFound:
            raise FeedNotFound("no such feed") from None
        return plan, plan.feed(filed.feed_id)

    # Calendar links (domain.calendar_links).

    def link_calendar(
        self,
        plan_id: UUID,
        name: str,
        *,
        url: str,
        user: str,
        actor: str,
        direction: str = "two_way",
        conflict_policy: str = "plan_wins",
        owner_email: str | None = None,
        kinds: tuple[str, ...] | None = None,
        link_id: UUID | None = None,
    ) -> UUID:
        return self._change_plan(
            plan_id,
            lambda plan: plan.link_calendar(
                name, url=url, user=user, actor=actor, direction=direction,
                conflict_policy=conflict_policy, owner_email=owner_email, kinds=kinds,
                link_id=link_id,
            ),
        )  # fmt: skip

    def unlink_calendar(
        self, plan_id: UUID, link_id: UUID, *, remove_items: bool, actor: str
    ) -> None:
        self._change_plan(
            plan_id,
            lambda plan: plan.unlink_calendar(link_id, remove_items=remove_items, actor=actor),
        )

    def note_from_calendar(self, subject_id: UUID, note: Callable[[Any], None]) -> None:
        """Records what a calendar sync observed about a milestone, or (given a plan's id) about
        its review series: `note` is one of their `note_calendar_*` commands."""
        try:
            self._change_milestone(subject_id, note)
        except MilestoneNotFound:
            self._change_plan(subject_id, note)

    # Users.

    def register_user(
        self, name: str, *, email: str, token_hash: str, actor: str, password_hash: str | None = None
    ) -> UUID:
        user = User.register(
            name, email=email, password_hash=password_hash, token_hash=token_hash, actor=actor
        )
        try:
            self._save(user)
        except ConcurrentChange:
            raise UserExists(f"the user name {name!r} is taken") from None
        return user.id

    def issue_token(self, name: str, *, token_hash: str, actor: str) -> None:
        user = self.user(name)
        user.issue_token(token_hash, actor=actor)
        self._save(user)

    def set_password(self, name: str, *, password_hash: str, actor: str) -> None:
        user = self.user(name)
        user.set_password(password_hash, actor=actor)
        self._save(user)

    def user(self, name: str) -> User:
        return self.user_by_id(user_id(name))

    def user_by_id(self, id_: UUID) -> User:
        try:
            user = self.repository.get(id_, projector_func=_aggregate_or_none)
        except AggregateNotFoundError:
            raise UserNotFound("no such user") from None
        if not isinstance(user, User):
            raise UserNotFound("no such user")
        return user

    # Commands on milestones.

    def add_milestone(
        self,
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
    ) -> UUID:
        plan = self._plan(plan_id)
        if assumption_id is not None:
            plan.assumption(assumption_id)
        register = self._milestone_register(plan_id)

        def add() -> UUID:
            milestone = Milestone.add(
                plan_id,
                title=title,
                kind=kind,
                due=due,
                budget=budget,
                owner=owner,
                actor=actor,
                description=description,
                assumption_id=assumption_id,
            )
            self._save(milestone, register.trigger_event(milestone_id=milestone.id))
            return milestone.id

        return self._retrying(add)

    def edit_milestone(
        self,
        milestone_id: UUID,
        *,
        actor: str,
        title: str | None = None,
        description: str | None = None,
        budget: Decimal | str | int | None = None,
        owner: Person | None = None,
        reason: str | None = None,
        plan_id: UUID | None = None,
    ) -> Milestone:
        """Applies several edits as one change: all are saved, or none if any is refused."""

        def edit(milestone: Milestone) -> None:
            if title is not None:
                milestone.retitle(title, actor=actor, reason=reason)
            if description is not None:
                milestone.describe(description, actor=actor, reason=reason)
            if budget is not None:
                milestone.change_budget(budget, reason=reason or "", actor=actor)
            if owner is not None:
                milestone.reassign(owner, actor=actor, reason=reason)

        return self._change_milestone(milestone_id, edit, plan_id)

    def reschedule(
        self, milestone_id: UUID, due: date, *, reason: str, actor: str, plan_id: UUID | None = None
    ) -> Milestone:
        return self._change_milestone(
            milestone_id, lambda m: m.reschedule(due, reason=reason, actor=actor), plan_id
        )

    def reassign(
        self,
        milestone_id: UUID,
        owner: Person,
        *,
        actor: str,
        reason: str | None = None,
        plan_id: UUID | None = None,
    ) -> Milestone:
        return self._change_milestone(
            milestone_id, lambda m: m.reassign(owner, actor=actor, reason=reason), plan_id
        )

    def change_budget(
        self,
        milestone_id: UUID,
        budget: Decimal | str | int,
        *,
        reason: str,
        actor: str,
        plan_id: UUID | None = None,
    ) -> Milestone:
        return self._change_milestone(
            milestone_id, lambda m: m.change_budget(budget, reason=reason, actor=actor), plan_id
        )

    def retitle(
        self,
        milestone_id: UUID,
        title: str,
        *,
        actor: str,
        reason: str | None = None,
        plan_id: UUID | None = None,
    ) -> Milestone:
        return self._change_milestone(
            milestone_id, lambda m: m.retitle(title, actor=actor, reason=reason), plan_id
        )

    def describe(
        self,
        milestone_id: UUID,
        description: str,
        *,
        actor: str,
        reason: str | None = None,
        plan_id: UUID | None = None,
    ) -> Milestone:
        return self._change_milestone(
            milestone_id, lambda m: m.describe(description, actor=actor, reason=reason), plan_id
        )

    def complete(
        self,
        milestone_id: UUID,
        *,
        actor: str,
        completed_on: date | None = None,
        actual_cost: Decimal | str | int | None = None,
        note: str = "",
        plan_id: UUID | None = None,
    ) -> Milestone:
        def complete(milestone: Milestone) -> None:
            done_on = completed_on or self._today(self._plan(milestone.plan_id).timezone)
            milestone.complete(completed_on=done_on, actual_cost=actual_cost, note=note, actor=actor)

        return self._change_milestone(milestone_id, complete, plan_id)

    def reopen(
        self, milestone_id: UUID, *, reason: str, actor: str, plan_id: UUID | None = None
    ) -> Milestone:
        return self._change_milestone(
            milestone_id, lambda m: m.reopen(reason=reason, actor=actor), plan_id
        )

    def cancel(
        self, milestone_id: UUID, *, reason: str, actor: str, plan_id: UUID | None = None
    ) -> Milestone:
        return self._change_milestone(
            milestone_id, lambda m: m.cancel(reason=reason, actor=actor), plan_id
        )

    # Queries.

    def plan_ids(self) -> list[UUID]:
        return [logged.plan_id for logged in self.plan_register.get()]

    def plans(self) -> list[Plan]:
        return [self._plan(plan_id) for plan_id in self.plan_ids()]

    def plan(self, plan_id: UUID) -> PlanView:
        """The plan now; kept warm in memory, so an unchanged plan costs one query to read."""
        return self._views.get(plan_id)

    def milestone_in(self, plan_id: UUID, milestone_id: UUID) -> Milestone:
        """The milestone, if it belongs to the plan: access to one plan never reaches another's."""
        milestone = self.milestone(milestone_id)
        if milestone.plan_id != plan_id:
            raise MilestoneNotFound(f"no milestone {milestone_id} in this plan")
        return milestone

    def milestone_ids(self, plan_id: UUID, *, after: int = 0) -> list[UUID]:
        """The plan's milestones in the order they were added; `after` skips that many."""
        register = self._milestone_register(plan_id)
        return [logged.milestone_id for logged in register.get(gt=after or None)]

    def milestone(self, milestone_id: UUID) -> Milestone:
        try:
            milestone = self.repository.get(milestone_id, projector_func=_aggregate_or_none)
        except AggregateNotFoundError:
            raise MilestoneNotFound(f"no milestone {milestone_id}") from None
        if not isinstance(milestone, Milestone):
            raise MilestoneNotFound(f"no milestone {milestone_id}")
        return milestone

    def plan_events(self, plan_id: UUID) -> list[Any]:
        """Every event of the plan and its milestones, in history order."""
        self._plan(plan_id)
        events = list(self.events.get(plan_id))
        for milestone_id in self.milestone_ids(plan_id):
            events.extend(self.events.get(milestone_id))
        events.sort(key=history_key)
        return events

    def plan_as_of(self, plan_id: UUID, *, at: datetime | None = None, version: int | None = None) -> PlanView:
        """The plan as it stood at a moment, or after its first `version` events."""
        events = self.plan_events(plan_id)
        if at is not None:
            events = [e for e in events if e.timestamp <= at]
        if version is not None:
            events = events[: max(version, 0)]
        return fold(events)

    def history(self, plan_id: UUID) -> Iterator[HistoryEntry]:
        for position, event in enumerate(self.plan_events(plan_id), start=1):
            yield entry_from(event, position)

    def history_page(
        self, plan_id: UUID, wanted: HistoryFilter = HistoryFilter(), *, limit: int = 50, after: int = 0
    ) -> HistoryPage:
        return page(self.history(plan_id), wanted, limit, after)

    def changes(
        self, plan_id: UUID, *, since: datetime | None = None, until: datetime | None = None
    ) -> ChangesReport:
        """The review report; by default everything since the last review held."""
        events = self.plan_events(plan_id)
        end = until or max(events[-1].timestamp, self._clock())
        start = since or last_review_time(events, end) or events[0].timestamp
        return changes_between(events, start, end)

    def budget(self, plan_id: UUID) -> BudgetReport:
        return budget_report(self.plan(plan_id))

    # Plumbing.

    def _plan(self, plan_id: UUID) -> Plan:
        try:
            plan = self.repository.get(plan_id, projector_func=_aggregate_or_none)
        except AggregateNotFoundError:
            raise PlanNotFound(f"no plan {plan_id}") from None
        if not isinstance(plan, Plan):
            raise PlanNotFound(f"no plan {plan_id}")
        return plan

    def _change_plan(self, plan_id: UUID, command: Callable[[Plan], T]) -> T:
        plan = self._plan(plan_id)
        result = command(plan)
        self._save(plan)
        return result

    def _change_milestone(
        self, milestone_id: UUID, command: Callable[[Milestone], None], plan_id: UUID | None = None
    ) -> Milestone:
        """Given `plan_id` (every milestone command takes one), only a milestone of that plan.

        The web layer checks the caller's access to a plan, then names it here, and answers with
        the milestone returned: the command's own load keeps it inside that plan and serves the
        answer, where a separate check and a reload would load it three times (bench/api.py
        measures what an API write costs over the command). Read the milestone returned; change
        it only through another command.
        """
        if plan_id is None:
            milestone = self.milestone(milestone_id)
        else:
            milestone = self.milestone_in(plan_id, milestone_id)
        command(milestone)
        self._save(milestone)
        return milestone

    def _save(self, *items: Any) -> None:
        try:
            self.save(*items)
        except IntegrityError:
            raise ConcurrentChange("someone changed this at the same time; reload and try again") from None

    def _today(self, zone: str) -> date:
        return self._clock().astimezone(ZoneInfo(zone)).date()

    @staticmethod
    def _retrying(create: Callable[[], T]) -> T:
        """New aggregates collide only on their register's next slot; building them anew loses nothing."""
        for _ in range(_ATTEMPTS - 1):
            try:
                return create()
            except ConcurrentChange:
                continue
        return create()
