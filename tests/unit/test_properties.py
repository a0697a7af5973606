"""Any sequence of commands, valid or not, keeps the event-sourced plan consistent.

After every step: the plan the application serves equals the fold of its events, a refused command
has appended nothing, and history positions run 1..N. A command may only fail with a DomainError.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any, TypeVar
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.application import Leanplan
from domain.errors import DomainError
from domain.values import Person
from domain.views import fold

T = TypeVar("T")
UNKNOWN = UUID("00000000-0000-4000-8000-000000000000")

actors = st.sampled_from(["alice", "bob", "calendar:team"])
reasons = st.sampled_from(["supplier late", "scope grew"])
texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12).filter(str.strip)
kinds = st.sampled_from(["plan_review", "assumption", "implementation"])
due_dates = st.dates(min_value=date(2030, 1, 1), max_value=date(2030, 1, 8))  # narrow: same dates recur
amounts = st.one_of(
    st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=500),
)
owners = st.sampled_from([("Bob", "bob@example.com"), ("Carol", "carol@example.com")])
cadences = st.sampled_from(["FREQ=MONTHLY;BYDAY=2FR", "FREQ=WEEKLY;BYDAY=MO", "FREQ=MONTHLY;BYMONTHDAY=1"])

BLANK = ["", "  "]
BAD_AMOUNTS = ["-0.01", -5, "1.005", "NaN", "abc", "1e20"]


def sometimes_broken(**invalid: list[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Usually no change; one time in three, one argument replaced by an invalid value."""
    flaws = [{name: value} for name, choices in invalid.items() for value in choices]
    return st.one_of(st.just({}), st.just({}), st.sampled_from(flaws))


def without_pending(aggregate: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


class PlanCommands(RuleBasedStateMachine):
    """Drives one plan through the in-memory application with random, often invalid, commands."""

    def __init__(self) -> None:
        super().__init__()
        self.app = Leanplan()
        self.plan_id = UNKNOWN
        self.milestones: list[UUID] = []
        self.assumptions: list[UUID] = []

    @initialize()
    def start(self) -> None:
        """A plan with one milestone and one assumption, so milestone commands have targets early."""
        self.plan_id = self.app.start_plan("Launch", actor="alice")
        owner = Person("Bob", "bob@example.com")
        self.milestones.append(
            self.app.add_milestone(
                self.plan_id,
                title="Beta",
                kind="implementation",
                due=date(2030, 1, 1),
                budget=0,
                owner=owner,
                actor="a",
            )
        )
        self.assumptions.append(self.app.add_assumption(self.plan_id, "Teams pay", actor="alice"))

    def stored(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def attempt(self, command: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Runs a command; a refusal must be a DomainError and must leave the store untouched."""
        before = self.stored()
        try:
            return command(*args, **kwargs)
        except DomainError:
            assert self.stored() == before, "a refused command appended events"
            return None

    def pick(self, data: st.DataObject, known: list[UUID]) -> UUID:
        """Mostly a known id; sometimes one that names nothing, or the plan's instead."""
        unknown = st.sampled_from([UNKNOWN, self.plan_id])
        return data.draw(
            st.one_of(st.sampled_from(known), st.sampled_from(known), unknown) if known else unknown
        )

    @rule(
        title=texts,
        kind=kinds,
        due=due_dates,
        budget=amounts,
        owner=owners,
        actor=actors,
        data=st.data(),
        broken=sometimes_broken(
            title=["", "t" * 201],
            kind=["task"],
            budget=BAD_AMOUNTS,
            owner=[("", "bob@example.com"), ("Bob", "not-an-email"), ("Bob", "bob@example.com\n")],
            actor=BLANK,
            assumption_id=[UNKNOWN],
        ),
    )
    def add_milestone(self, data: st.DataObject, broken: dict[str, Any], **fields: Any) -> None:
        fields["assumption_id"] = data.draw(st.sampled_from([None, *self.assumptions]))
        fields |= broken

        def add() -> UUID:
            return self.app.add_milestone(self.plan_id, **(fields | {"owner": Person(*fields["owner"])}))

        added = self.attempt(add)
        if added is not None:
            self.milestones.append(added)

    @rule(data=st.data(), due=due_dates, reason=reasons, actor=actors, broken=sometimes_broken(reason=BLANK))
    def reschedule(self, data: st.DataObject, broken: dict[str, Any], **fields: Any) -> None:
        self.attempt(self.app.reschedule, self.pick(data, self.milestones), **(fields | broken))

    @rule(data=st.data(), owner=owners, actor=actors, broken=sometimes_broken(actor=BLANK))
    def reassign(
        self, data: st.DataObject, owner: tuple[str, str], broken: dict[str, Any], actor: str
    ) -> None:
        self.attempt(
            self.app.reassign, self.pick(data, self.milestones), Person(*owner), **({"actor": actor} | broken)
        )

    @rule(
        data=st.data(),
        budget=amounts,
        reason=reasons,
        actor=actors,
        broken=sometimes_broken(budget=BAD_AMOUNTS, reason=BLANK),
    )
    def change_budget(self, data: st.DataObject, broken: dict[str, Any], **fields: Any) -> None:
        self.attempt(self.app.change_budget, self.pick(data, self.milestones), **(fields | broken))

    @rule(
        data=st.data(),
        title=texts,
        description=texts,
        budget=amounts,
        reason=reasons,
        actor=actors,
        broken=sometimes_broken(title=["", "t" * 201], budget=BAD_AMOUNTS, reason=BLANK, actor=BLANK),
    )
    def edit(self, data: st.DataObject, broken: dict[str, Any], **fields: Any) -> None:
        """Several changes in one command: all are stored, or none."""
        self.attempt(self.app.edit_milestone, self.pick(data, self.milestones), **(fields | broken))

    @rule(data=st.data(), title=texts, actor=actors, broken=sometimes_broken(title=BLANK))
    def retitle(self, data: st.DataObject, title: str, actor: str, broken: dict[str, Any]) -> None:
        fields = {"title": title, "actor": actor} | broken
        self.attempt(self.app.retitle, self.pick(data, self.milestones), fields.pop("title"), **fields)

    @rule(
        data=st.data(),
        completed_on=st.none() | due_dates,
        actual_cost=st.none() | amounts,
        actor=actors,
        broken=sometimes_broken(actual_cost=BAD_AMOUNTS, actor=BLANK),
    )
    def complete(self, data: st.DataObject, broken: dict[str, Any], **fields: Any) -> None:
        self.attempt(self.app.complete, self.pick(data, self.milestones), **(fields | broken))

    @rule(data=st.data(), reason=reasons, actor=actors, broken=sometimes_broken(reason=BLANK))
    def reopen(self, data: st.DataObject, broken: dict[str, Any], **fields: Any) -> None:
        self.attempt(self.app.reopen, self.pick(data, self.milestones), **(fields | broken))

    @rule(data=st.data(), reason=reasons, actor=actors, broken=sometimes_broken(reason=BLANK))
    def cancel(self, data: st.DataObject, broken: dict[str, Any], **fields: Any) -> None:
        self.attempt(self.app.cancel, self.pick(data, self.milestones), **(fields | broken))

    @rule(name=texts, actor=actors, broken=sometimes_broken(name=["", "n" * 201], actor=BLANK))
    def rename(self, name: str, actor: str, broken: dict[str, Any]) -> None:
        fields = {"name": name, "actor": actor} | broken
        self.attempt(self.app.rename_plan, self.plan_id, fields.pop("name"), **fields)

    @rule(statement=texts, actor=actors, broken=sometimes_broken(statement=BLANK, actor=BLANK))
    def add_assumption(self, statement: str, actor: str, broken: dict[str, Any]) -> None:
        fields = {"statement": statement, "actor": actor} | broken
        added = self.attempt(self.app.add_assumption, self.plan_id, fields.pop("statement"), **fields)
        if added is not None:
            self.assumptions.append(added)

    @rule(
        data=st.data(),
        valid=st.booleans(),
        evidence=texts,
        actor=actors,
        broken=sometimes_broken(evidence=BLANK),
    )
    def resolve_assumption(
        self, data: st.DataObject, valid: bool, broken: dict[str, Any], **fields: Any
    ) -> None:
        resolve = self.app.validate_assumption if valid else self.app.invalidate_assumption
        self.attempt(resolve, self.plan_id, self.pick(data, self.assumptions), **(fields | broken))

    @rule(
        rrule=cadences,
        duration_minutes=st.sampled_from([30, 60]),
        actor=actors,
        broken=sometimes_broken(
            rrule=[
                "FREQ=SECONDLY",
                "RRULE:FREQ=DAILY",
                "BYDAY=FR",
                "FREQ=MONTHLY;INTERVAL=0",
                "FREQ=DAILY;BYHOUR=9",
            ],
            duration_minutes=[0],
        ),
    )
    def set_cadence(self, broken: dict[str, Any], **fields: Any) -> None:
        self.attempt(self.app.set_review_cadence, self.plan_id, start_time=time(10), **(fields | broken))

    @rule(
        data=st.data(),
        skip=st.booleans(),
        reason=reasons,
        actor=actors,
        broken=sometimes_broken(reason=BLANK),
    )
    def change_occurrence(
        self, data: st.DataObject, skip: bool, broken: dict[str, Any], **fields: Any
    ) -> None:
        cadence = self.app.plan(self.plan_id).plan.cadence
        upcoming = cadence.dates_between(cadence.starts_on, cadence.starts_on + timedelta(days=60))
        occurrence = data.draw(st.sampled_from([*upcoming, date(2030, 1, 1)]))  # the last is no occurrence
        fields |= broken
        if skip:
            self.attempt(self.app.skip_review_occurrence, self.plan_id, occurrence, **fields)
        else:
            moved_to = {"new_date": occurrence + timedelta(days=1), "new_time": time(9)}
            self.attempt(self.app.move_review_occurrence, self.plan_id, occurrence, **(fields | moved_to))

    @rule(
        held_on=due_dates,
        notes=texts,
        actor=actors,
        broken=sometimes_broken(notes=["n" * 10_001], actor=BLANK),
    )
    def hold_review(self, broken: dict[str, Any], **fields: Any) -> None:
        self.attempt(self.app.hold_review, self.plan_id, **(fields | broken))

    @invariant()
    def the_plan_served_is_the_fold_of_its_events(self) -> None:
        served = self.app.plan(self.plan_id)
        folded = fold(self.app.plan_events(self.plan_id))
        assert without_pending(served.plan) == without_pending(folded.plan)
        assert [m.id for m in served.milestones] == self.milestones
        assert {m.id: without_pending(m) for m in served.milestones} == {
            m.id: without_pending(m) for m in folded.milestones
        }
        assert served.version == folded.version

    @invariant()
    def history_positions_run_from_one_to_n(self) -> None:
        positions = [entry.position for entry in self.app.history(self.plan_id)]
        assert positions == list(range(1, len(self.app.plan_events(self.plan_id)) + 1))


PlanCommands.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPlanCommands = PlanCommands.TestCase
