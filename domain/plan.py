"""The Plan aggregate: plan-wide facts, its assumptions and its review meetings.

Milestones live in their own aggregates (domain.milestone) so that changing one milestone
loads and writes a handful of events, however large the plan grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain import values
from domain.errors import (
    AssumptionAlreadyResolved,
    AssumptionNotFound,
    EvidenceRequired,
    FeedNotFound,
    InvalidInput,
    InvalidRole,
    InvalidStatement,
    MemberNotFound,
    OwnerIsFixed,
    ReviewOccurrenceNotFound,
)
from domain.calendar_links import (
    CalendarLink,
    CalendarLinkNotFound,
    ConflictPolicy,
    Direction,
    Winner,
    collection_url,
    link_name,
    username,
)
from domain.values import AssumptionStatus, Kind, ReviewCadence


@dataclass
class Assumption:
    """A belief the plan rests on, and what testing it showed."""

    id: UUID
    statement: str
    test: str
    success_criterion: str
    status: AssumptionStatus = AssumptionStatus.UNTESTED
    evidence: str = ""


@dataclass(frozen=True)
class MovedOccurrence:
    new_date: date
    new_time: time


@dataclass(frozen=True)
class Review:
    """A review meeting that took place, with what it decided."""

    held_on: date
    notes: str
    decisions: tuple[str, ...]
    actor: str


@dataclass(frozen=True)
class Feed:
    """A calendar subscription to the plan, and its filters; its token is known only by a hash."""

    id: UUID
    name: str
    owner_email: str | None
    kinds: tuple[Kind, ...] | None
    token_hash: str
    created_at: datetime
    created_by: str


class Role(StrEnum):
    """What a member may do, each role including the ones before it: read, change, manage members."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    def includes(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass
class _PlanState:
    moved: dict[date, MovedOccurrence] = field(default_factory=dict)
    skipped: dict[date, str] = field(default_factory=dict)
    reviews: list[Review] = field(default_factory=list)
    assumptions: dict[UUID, Assumption] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    feeds: dict[UUID, Feed] = field(default_factory=dict)
    calendar_links: dict[UUID, CalendarLink] = field(default_factory=dict)
    review_revision: int = 0
    review_revised_at: datetime | None = None

    def revise_review(self, at: datetime) -> None:
        """Something calendars show of the review series changed: see `Plan.review_sequence`."""
        self.review_revision += 1
        self.review_revised_at = at


class Plan(Aggregate):
    """A Lean Plan: its name, zone, currency, review rhythm and assumptions."""

    class Event(Aggregate.Event):
        actor: str
        reason: str | None

        @property
        def plan_id(self) -> UUID:
            return self.originator_id

    class PlanStarted(Event, Aggregate.Created):
        name: str
        timezone: str
        currency: str
        rrule: str
        start_time: time
        duration_minutes: int
        starts_on: date

    class PlanRenamed(Event):
        old_name: str
        new_name: str

        def apply(self, plan: Plan) -> None:
            plan.name = self.new_name
            plan.state.revise_review(self.timestamp)

    class AssumptionAdded(Event):
        assumption_id: UUID
        statement: str
        test: str
        success_criterion: str

        def apply(self, plan: Plan) -> None:
            plan.state.assumptions[self.assumption_id] = Assumption(
                id=self.assumption_id,
                statement=self.statement,
                test=self.test,
                success_criterion=self.success_criterion,
            )

    class AssumptionValidated(Event):
        assumption_id: UUID
        old_status: str
        new_status: str
        evidence: str

        def apply(self, plan: Plan) -> None:
            assumption = plan.state.assumptions[self.assumption_id]
            assumption.status = AssumptionStatus(self.new_status)
            assumption.evidence = self.evidence

    class AssumptionInvalidated(AssumptionValidated):
        pass

    class ReviewCadenceSet(Event):
        old_rrule: str
        new_rrule: str
        old_start_time: time
        new_start_time: time
        old_duration_minutes: int
        new_duration_minutes: int
        starts_on: date

        def apply(self, plan: Plan) -> None:
            plan.cadence = ReviewCadence(
                rrule=self.new_rrule,
                start_time=self.new_start_time,
                duration_minutes=self.new_duration_minutes,
                starts_on=self.starts_on,
            )
            plan.state.revise_review(self.timestamp)

    class ReviewOccurrenceMoved(Event):
        occurrence: date
        new_date: date
        new_time: time

        def apply(self, plan: Plan) -> None:
            plan.state.skipped.pop(self.occurrence, None)
            plan.state.moved[self.occurrence] = MovedOccurrence(self.new_date, self.new_time)
            plan.state.revise_review(self.timestamp)

    class ReviewOccurrenceSkipped(Event):
        occurrence: date

        def apply(self, plan: Plan) -> None:
            plan.state.moved.pop(self.occurrence, None)
            plan.state.skipped[self.occurrence] = self.reason or ""
            plan.state.revise_review(self.timestamp)

    class ReviewHeld(Event):
        held_on: date
        notes: str
        decisions: tuple[str, ...]

        def apply(self, plan: Plan) -> None:
            plan.state.reviews.append(
                Review(self.held_on, self.notes, tuple(self.decisions), self.actor)
            )
            plan.state.revise_review(self.timestamp)

    class MemberAdded(Event):
        member: str
        role: str

        def apply(self, plan: Plan) -> None:
            plan.state.members[self.member] = self.role

    class MemberRoleChanged(Event):
        member: str
        old_role: str
        new_role: str

        def apply(self, plan: Plan) -> None:
            plan.state.members[self.member] = self.new_role

    class MemberRemoved(Event):
        """`new_role` is always None: it lets the history show the role going from old to none."""

        member: str
        old_role: str
        new_role: str | None

        def apply(self, plan: Plan) -> None:
            del plan.state.members[self.member]

    class FeedCreated(Event):
        feed_id: UUID
        name: str
        owner_email: str | None
        kinds: tuple[str, ...] | None
        token_hash: str

        def apply(self, plan: Plan) -> None:
            kinds = None if self.kinds is None else tuple(Kind(k) for k in self.kinds)
            plan.state.feeds[self.feed_id] = Feed(
                self.feed_id, self.name, self.owner_email, kinds, self.token_hash, self.timestamp,
                self.actor,
            )  # fmt: skip

    class FeedRevoked(Event):
        feed_id: UUID
        name: str

        def apply(self, plan: Plan) -> None:
            del plan.state.feeds[self.feed_id]

    class CalendarLinked(Event):
        """No password here: it is kept encrypted outside the history (adapters.secrets)."""

        link_id: UUID
        name: str
        url: str
        username: str
        direction: str
        owner_email: str | None
        kinds: tuple[str, ...] | None
        conflict_policy: str

        def apply(self, plan: Plan) -> None:
            kinds = None if self.kinds is None else tuple(Kind(k) for k in self.kinds)
            plan.state.calendar_links[self.link_id] = CalendarLink(
                self.link_id, self.name, self.url, self.username, Direction(self.direction),
                self.owner_email, kinds, ConflictPolicy(self.conflict_policy), self.timestamp,
                self.actor,
            )  # fmt: skip

    class CalendarUnlinked(Event):
        link_id: UUID
        name: str
        remove_items: bool

        def apply(self, plan: Plan) -> None:
            del plan.state.calendar_links[self.link_id]

    class CalendarConflictResolved(Event):
        """The review series (`item`) changed on both sides; see domain.calendar_links."""

        link_id: UUID
        item: str
        plan_value: str
        calendar_value: str
        winner: str

    class CalendarDeletionNoted(Event):
        link_id: UUID
        item: str

    class CalendarEditOverwritten(Event):
        link_id: UUID
        item: str
        fields: tuple[str, ...]

    def __init__(
        self,
        name: str,
        timezone: str,
        currency: str,
        rrule: str,
        start_time: time,
        duration_minutes: int,
        starts_on: date,
        actor: str,
    ) -> None:
        self.name = name
        self.timezone = timezone
        self.currency = currency
        self.cadence = ReviewCadence(rrule, start_time, duration_minutes, starts_on)
        # The creator is the owner: PlanStarted's actor, so plans started before membership have one.
        self.state = _PlanState(members={actor: Role.OWNER.value})

    @classmethod
    def start(
        cls,
        name: str,
        *,
        actor: str,
        starts_on: date,
        timezone: str = "UTC",
        currency: str = "USD",
        cadence: ReviewCadence | None = None,
    ) -> Plan:
        cadence = replace(cadence or ReviewCadence(), starts_on=starts_on)
        return cls._create(
            cls.PlanStarted,
            id=uuid4(),
            actor=values.actor(actor),
            reason=None,
            name=values.plan_name(name),
            timezone=values.timezone(timezone),
            currency=values.currency(currency),
            rrule=cadence.rrule,
            start_time=cadence.start_time,
            duration_minutes=cadence.duration_minutes,
            starts_on=starts_on,
        )

    @property
    def assumptions(self) -> list[Assumption]:
        return list(self.state.assumptions.values())

    @property
    def reviews(self) -> list[Review]:
        return list(self.state.reviews)

    @property
    def moved_occurrences(self) -> dict[date, MovedOccurrence]:
        return dict(self.state.moved)

    @property
    def skipped_occurrences(self) -> dict[date, str]:
        return dict(self.state.skipped)

    @property
    def review_sequence(self) -> int:
        """Calendar SEQUENCE of the review series: grows only with what a calendar shows of it
        (name, cadence, moves, skips, reviews held), not with assumptions or members."""
        return self.state.review_revision

    @property
    def review_modified_on(self) -> datetime:
        """When the review series last changed: its DTSTAMP and LAST-MODIFIED in feeds."""
        return self.state.review_revised_at or self.created_on

    @property
    def members(self) -> dict[str, Role]:
        return {name: Role(role) for name, role in self.state.members.items()}

    @property
    def feeds(self) -> list[Feed]:
        """The feeds that work now; revoked ones are gone."""
        return list(self.state.feeds.values())

    def feed(self, feed_id: UUID) -> Feed:
        try:
            return self.state.feeds[feed_id]
        except KeyError:
            raise FeedNotFound(f"no feed {feed_id} in this plan") from None

    @property
    def calendar_links(self) -> list[CalendarLink]:
        return list(self.state.calendar_links.values())

    def calendar_link(self, link_id: UUID) -> CalendarLink:
        try:
            return self.state.calendar_links[link_id]
        except KeyError:
            raise CalendarLinkNotFound(f"no calendar link {link_id} in this plan") from None

    def link_calendar(
        self,
        name: str,
        *,
        url: str,
        user: str,
        actor: str,
        direction: str = Direction.TWO_WAY.value,
        conflict_policy: str = ConflictPolicy.PLAN_WINS.value,
        owner_email: str | None = None,
        kinds: tuple[str, ...] | None = None,
        link_id: UUID | None = None,
    ) -> UUID:
        """Records a link; the caller keeps its password (encrypted, outside the history) under
        `link_id`, which it may choose so that the password is stored before the link exists."""
        try:
            direction = Direction(direction).value
        except ValueError:
            raise InvalidInput("direction is push or two_way", field="direction") from None
        try:
            conflict_policy = ConflictPolicy(conflict_policy).value
        except ValueError:
            raise InvalidInput(
                "conflict_policy is plan_wins or calendar_wins", field="conflict_policy"
            ) from None
        if kinds is not None and not kinds:
            raise InvalidInput("name at least one kind, or leave kinds out for all", field="kinds")
        link_id = link_id or uuid4()
        if link_id in self.state.calendar_links:
            raise InvalidInput("this link id is taken", field="link_id")
        self._record(
            self.CalendarLinked,
            actor,
            link_id=link_id,
            name=link_name(name),
            url=collection_url(url),
            username=username(user),
            direction=direction,
            owner_email=None if owner_email is None else values.email(owner_email, "owner_email"),
            kinds=None if kinds is None else tuple(sorted({values.kind(k).value for k in kinds})),
            conflict_policy=conflict_policy,
        )
        return link_id

    def unlink_calendar(self, link_id: UUID, *, remove_items: bool, actor: str) -> None:
        link = self.calendar_link(link_id)
        self._record(
            self.CalendarUnlinked, actor, link_id=link_id, name=link.name, remove_items=remove_items
        )

    def note_calendar_conflict(
        self, link: CalendarLink, *, item: str, plan_value: str, calendar_value: str, winner: Winner
    ) -> None:
        self._record(
            self.CalendarConflictResolved, link.actor,
            reason=f"changed in the plan and in calendar {link.name}; the {winner.value} won",
            link_id=link.id, item=item, plan_value=plan_value, calendar_value=calendar_value,
            winner=winner.value,
        )  # fmt: skip

    def note_calendar_deletion(self, link: CalendarLink, *, item: str) -> None:
        self._record(
            self.CalendarDeletionNoted, link.actor,
            reason=f"deleted in calendar {link.name}; the plan keeps it and puts it back",
            link_id=link.id, item=item,
        )  # fmt: skip

    def note_calendar_edit(self, link: CalendarLink, *, item: str, fields: tuple[str, ...]) -> None:
        self._record(
            self.CalendarEditOverwritten, link.actor,
            reason=f"edited in calendar {link.name}; the plan decides these, so they are restored",
            link_id=link.id, item=item, fields=fields,
        )  # fmt: skip

    def role_of(self, user: str) -> Role | None:
        role = self.state.members.get(user)
        return None if role is None else Role(role)

    def assumption(self, assumption_id: UUID) -> Assumption:
        try:
            return self.state.assumptions[assumption_id]
        except KeyError:
            raise AssumptionNotFound(f"no assumption {assumption_id} in this plan") from None

    def rename(self, name: str, *, actor: str) -> None:
        new_name = values.plan_name(name)
        if new_name != self.name:
            self._record(self.PlanRenamed, actor, old_name=self.name, new_name=new_name)

    def add_assumption(
        self, statement: str, *, actor: str, test: str = "", success_criterion: str = ""
    ) -> UUID:
        if not statement.strip() or len(statement) > values.MAX_DESCRIPTION:
            raise InvalidStatement("an assumption needs a statement of 1 to 10,000 characters")
        if len(test) > values.MAX_DESCRIPTION or len(success_criterion) > values.MAX_DESCRIPTION:
            raise InvalidInput("test and success criterion have at most 10,000 characters")
        assumption_id = uuid4()
        self._record(
            self.AssumptionAdded,
            actor,
            assumption_id=assumption_id,
            statement=statement.strip(),
            test=test.strip(),
            success_criterion=success_criterion.strip(),
        )
        return assumption_id

    def validate_assumption(self, assumption_id: UUID, *, evidence: str, actor: str) -> None:
        self._resolve(self.AssumptionValidated, assumption_id, evidence, actor)

    def invalidate_assumption(self, assumption_id: UUID, *, evidence: str, actor: str) -> None:
        self._resolve(self.AssumptionInvalidated, assumption_id, evidence, actor)

    def _resolve(
        self, event_class: type[AssumptionValidated], assumption_id: UUID, evidence: str, actor: str
    ) -> None:
        assumption = self.assumption(assumption_id)
        new_status = (
            AssumptionStatus.INVALIDATED
            if event_class is self.AssumptionInvalidated
            else AssumptionStatus.VALIDATED
        )
        if assumption.status == new_status:
            raise AssumptionAlreadyResolved(f"the assumption is already {new_status.value}")
        if not evidence.strip():
            raise EvidenceRequired("say what evidence resolved the assumption")
        self._record(
            event_class,
            actor,
            assumption_id=assumption_id,
            old_status=assumption.status.value,
            new_status=new_status.value,
            evidence=evidence.strip(),
        )

    def add_member(self, user: str, role: str, *, actor: str) -> None:
        """Adds `user` as editor or viewer, or changes their role; the owner's role is fixed."""
        try:
            new_role = Role(role)
        except ValueError:
            raise InvalidRole(f"unknown role {role!r}; choose editor or viewer") from None
        if new_role is Role.OWNER:
            raise InvalidRole("a plan has one owner; add members as editor or viewer")
        old_role = self.role_of(user)
        if old_role is Role.OWNER:
            raise OwnerIsFixed(f"{user} owns this plan; the owner's role cannot change")
        if old_role is None:
            self._record(self.MemberAdded, actor, member=user, role=new_role.value)
        elif old_role is not new_role:
            self._record(
                self.MemberRoleChanged,
                actor,
                member=user,
                old_role=old_role.value,
                new_role=new_role.value,
            )

    def remove_member(self, user: str, *, actor: str) -> None:
        role = self.role_of(user)
        if role is None:
            raise MemberNotFound(f"{user} is not a member of this plan")
        if role is Role.OWNER:
            raise OwnerIsFixed(f"{user} owns this plan and cannot be removed")
        self._record(self.MemberRemoved, actor, member=user, old_role=role.value, new_role=None)

    def create_feed(
        self,
        name: str,
        *,
        token_hash: str,
        actor: str,
        owner_email: str | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> UUID:
        """Records a subscription; the caller keeps the token, the plan only its hash."""
        if not name.strip() or len(name.strip()) > values.MAX_TITLE:
            raise InvalidInput(f"a feed name has 1 to {values.MAX_TITLE} characters", field="name")
        if kinds is not None and not kinds:
            raise InvalidInput("name at least one kind, or leave kinds out for all", field="kinds")
        feed_id = uuid4()
        self._record(
            self.FeedCreated,
            actor,
            feed_id=feed_id,
            name=name.strip(),
            owner_email=None if owner_email is None else values.email(owner_email, "owner_email"),
            kinds=None if kinds is None else tuple(sorted({values.kind(k).value for k in kinds})),
            token_hash=token_hash,
        )
        return feed_id

    def revoke_feed(self, feed_id: UUID, *, actor: str) -> None:
        self._record(self.FeedRevoked, actor, feed_id=feed_id, name=self.feed(feed_id).name)

    def set_review_cadence(
        self,
        *,
        rrule: str,
        start_time: time,
        duration_minutes: int,
        actor: str,
        starts_on: date | None = None,
    ) -> None:
        cadence = ReviewCadence(
            rrule.strip(), start_time, duration_minutes, starts_on or self.cadence.starts_on
        )
        if cadence == self.cadence:
            return
        self._record(
            self.ReviewCadenceSet,
            actor,
            old_rrule=self.cadence.rrule,
            new_rrule=cadence.rrule,
            old_start_time=self.cadence.start_time,
            new_start_time=cadence.start_time,
            old_duration_minutes=self.cadence.duration_minutes,
            new_duration_minutes=cadence.duration_minutes,
            starts_on=cadence.starts_on,
        )

    def move_review_occurrence(
        self, occurrence: date, *, new_date: date, new_time: time, actor: str, reason: str | None = None
    ) -> None:
        self._require_occurrence(occurrence)
        self._record(
            self.ReviewOccurrenceMoved,
            actor,
            reason=reason,
            occurrence=occurrence,
            new_date=new_date,
            new_time=new_time,
        )

    def skip_review_occurrence(self, occurrence: date, *, actor: str, reason: str) -> None:
        self._require_occurrence(occurrence)
        self._record(
            self.ReviewOccurrenceSkipped, actor, reason=values.reason(reason), occurrence=occurrence
        )

    def hold_review(
        self, held_on: date, *, notes: str, actor: str, decisions: tuple[str, ...] = ()
    ) -> None:
        if len(notes) > values.MAX_DESCRIPTION:
            raise InvalidInput("review notes have at most 10,000 characters", field="notes")
        self._record(
            self.ReviewHeld,
            actor,
            held_on=held_on,
            notes=notes,
            decisions=tuple(d.strip() for d in decisions if d.strip()),
        )

    def review_dates(self, start: date, end: date) -> list[tuple[date, time]]:
        """The meetings as they will happen: the cadence with moves and skips applied."""
        planned = self.cadence.dates_between(start - timedelta(days=366), end + timedelta(days=366))
        meetings = []
        for occurrence in planned:
            if occurrence in self.state.skipped:
                continue
            moved = self.state.moved.get(occurrence)
            meeting = (moved.new_date, moved.new_time) if moved else (occurrence, self.cadence.start_time)
            if start <= meeting[0] <= end:
                meetings.append(meeting)
        return sorted(meetings)

    def _require_occurrence(self, occurrence: date) -> None:
        if occurrence not in self.cadence.dates_between(occurrence, occurrence):
            raise ReviewOccurrenceNotFound(f"no review is scheduled on {occurrence.isoformat()}")

    def _record(
        self, event_class: type[Plan.Event], actor: str, *, reason: str | None = None, **fields: Any
    ) -> None:
        self.trigger_event(
            event_class,
            actor=values.actor(actor),
            reason=(reason or "").strip() or None,  # an optional reason left blank was not given
            # Never before the last change: history and time travel order events by time, and a
            # clock that steps back (NTP, a second server lagging) must not reorder them.
            timestamp=max(event_class.create_timestamp(), self.modified_on),
            **fields,
        )
