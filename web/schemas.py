"""The API's JSON shapes, in and out: marshmallow checks types here, the domain checks its rules.

Input schemas stop only what the domain cannot be handed (wrong types, unstorable text, naive or
overflowing moments); limits such as title length stay in the domain, whose errors name the same
fields. Output schemas take domain objects (with the plan's currency or today's date beside them
where the object alone lacks it) and decide how each value is written: money as a decimal string,
dates and times in ISO 8601.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_dump,
    validate,
    validates_schema,
)

from domain.errors import InvalidEmail, InvalidInput
from domain.history import ChangesReport
from domain.milestone import Milestone
from domain.plan import Plan, Role
from domain.values import AssumptionStatus, Kind, MilestoneStatus, Person
from domain.views import PlanView

MAX_HISTORY_PAGE = 500
MAX_POSITION = 2**63 - 1
"""The largest integer the stores hold; a cursor beyond it cannot be a position."""


class Text(fields.String):
    """A string that can be stored: JSON may carry lone surrogates, which UTF-8 cannot encode."""

    default_error_messages = {"unencodable": "Contains characters that are not valid Unicode."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("unencodable") from None
        return text


class Money(fields.Decimal):
    """An amount as a decimal string ("1500.00"); a JSON number is accepted too."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(as_string=True, **kwargs)


class Moment(fields.AwareDateTime):
    """An ISO 8601 moment, in UTC; without an offset it is read as UTC.

    Naive and aware moments cannot be compared, and an offset can push a moment past year 9999,
    so both are settled here rather than failing deep in a query.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class LocalTime(fields.Time):
    """A time of day as HH:MM, in the plan's zone: no seconds, no offset."""

    default_error_messages = {"local": "Give a time of day as HH:MM, without seconds or offset."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> time:
        if not isinstance(value, str):
            raise self.make_error("local")
        try:
            parsed = time.fromisoformat(value)
        except ValueError:
            raise self.make_error("local") from None
        if parsed.tzinfo is not None or parsed.second or parsed.microsecond:
            raise self.make_error("local")
        return parsed


# Input.


class PersonIn(Schema):
    name = Text(required=True)
    email = Text(required=True)

    @post_load
    def _person(self, data: dict[str, str], **_: Any) -> Person:
        try:
            return Person(data["name"], data["email"])
        except InvalidEmail as error:
            raise ValidationError(str(error), "email") from None
        except InvalidInput as error:
            raise ValidationError(str(error), "name") from None


class PlanIn(Schema):
    name = Text(required=True)
    timezone = Text(load_default="UTC", metadata={"description": "IANA time zone"})
    currency = Text(load_default="USD", metadata={"description": "ISO 4217 code"})


class MilestoneIn(Schema):
    title = Text(required=True)
    description = Text(load_default="")
    kind = fields.Enum(Kind, by_value=True, required=True)
    due = fields.Date(required=True)
    budget = Money(required=True)
    owner = fields.Nested(PersonIn, required=True)
    assumption_id = fields.UUID(load_default=None)


class MilestonePatch(Schema):
    title = Text()
    description = Text()
    budget = Money(metadata={"description": "a changed budget needs a reason"})
    owner = fields.Nested(PersonIn)
    reason = Text()


class RescheduleIn(Schema):
    due = fields.Date(required=True)
    reason = Text(required=True)


class CompleteIn(Schema):
    completed_on = fields.Date(metadata={"description": "default: today in the plan's zone"})
    actual_cost = Money()
    note = Text(load_default="")


class ReasonIn(Schema):
    reason = Text(required=True)


class AssumptionIn(Schema):
    statement = Text(required=True)
    test = Text(load_default="")
    success_criterion = Text(load_default="")


class EvidenceIn(Schema):
    evidence = Text(required=True)


class CadenceIn(Schema):
    rrule = Text(
        required=True, metadata={"description": "RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYDAY=2FR"}
    )
    start_time = LocalTime(required=True)
    duration_minutes = fields.Integer(required=True, strict=True)


class ReviewIn(Schema):
    held_on = fields.Date(required=True)
    notes = Text(required=True)
    decisions = fields.List(Text(), load_default=list)


class MemberIn(Schema):
    user = Text(required=True)
    role = Text(required=True, validate=validate.OneOf([Role.EDITOR.value, Role.VIEWER.value]))


class AsOfQuery(Schema):
    as_of = Moment(metadata={"description": "the plan as it stood at this moment"})


class _SpanQuery(Schema):
    since = Moment()
    until = Moment()

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if "since" in data and "until" in data and data["since"] > data["until"]:
            raise ValidationError("since must not be after until", "since")


class HistoryQuery(_SpanQuery):
    milestone = fields.UUID()
    actor = Text()
    type = fields.List(Text(), metadata={"description": "event type; repeat for several"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_HISTORY_PAGE))
    cursor = fields.Integer(
        load_default=0,
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "next_cursor of the previous page"},
    )


class ChangesQuery(_SpanQuery):
    """Without `since`, the report starts at the last review held."""


# Output.


class Priced(NamedTuple):
    """A milestone with its plan's currency, which the milestone itself does not know."""

    milestone: Milestone
    currency: str


class PlanAt(NamedTuple):
    """A plan with the day its next reviews are counted from."""

    view: PlanView
    today: date


class Listed(NamedTuple):
    """A plan in a user's list, with the role they hold in it."""

    plan: Plan
    role: Role


class Reported(NamedTuple):
    """A changes report with its plan's currency."""

    changes: ChangesReport
    currency: str


class PersonOut(Schema):
    name = fields.String()
    email = fields.String()


class MilestoneOut(Schema):
    id = fields.UUID()
    title = fields.String()
    description = fields.String()
    kind = fields.Enum(Kind, by_value=True)
    due = fields.Date()
    original_due = fields.Date()
    budget = Money()
    actual_cost = Money(allow_none=True)
    currency = fields.String()
    owner = fields.Nested(PersonOut)
    status = fields.Enum(MilestoneStatus, by_value=True)
    completed_on = fields.Date(allow_none=True)
    assumption_id = fields.UUID(allow_none=True)
    reschedule_count = fields.Integer()
    slip_days = fields.Integer(
        metadata={"description": "days the due date moved; negative: earlier"}
    )

    @pre_dump
    def _unpack(self, priced: Priced, **_: Any) -> dict[str, Any]:
        m = priced.milestone
        return {
            "id": m.id,
            "title": m.title,
            "description": m.description,
            "kind": m.kind,
            "due": m.due,
            "original_due": m.original_due,
            "budget": m.budget,
            "actual_cost": m.actual_cost,
            "currency": priced.currency,
            "owner": m.owner,
            "status": m.status,
            "completed_on": m.completed_on,
            "assumption_id": m.assumption_id,
            "reschedule_count": m.reschedule_count,
            "slip_days": m.slip_days,
        }


class AssumptionOut(Schema):
    id = fields.UUID()
    statement = fields.String()
    test = fields.String()
    success_criterion = fields.String()
    status = fields.Enum(AssumptionStatus, by_value=True)
    evidence = fields.String()


class ReviewDateOut(Schema):
    date = fields.Date()
    start_time = LocalTime()


class CadenceOut(Schema):
    rrule = fields.String()
    start_time = LocalTime()
    duration_minutes = fields.Integer()
    next_reviews = fields.List(fields.Nested(ReviewDateOut))

    @pre_dump
    def _unpack(self, at: PlanAt, **_: Any) -> dict[str, Any]:
        cadence = at.view.plan.cadence
        return {
            "rrule": cadence.rrule,
            "start_time": cadence.start_time,
            "duration_minutes": cadence.duration_minutes,
            "next_reviews": [
                {"date": day, "start_time": start} for day, start in at.view.next_reviews(at.today)
            ],
        }


class ReviewOut(Schema):
    held_on = fields.Date()
    notes = fields.String()
    decisions = fields.List(fields.String())
    actor = fields.String()


class MemberOut(Schema):
    user = fields.String()
    role = fields.Enum(Role, by_value=True)


class PlanOut(Schema):
    id = fields.UUID()
    name = fields.String()
    timezone = fields.String()
    currency = fields.String()
    version = fields.Integer(metadata={"description": "the plan's ETag: events recorded so far"})
    members = fields.List(fields.Nested(MemberOut))
    review_cadence = fields.Nested(CadenceOut)
    milestones = fields.List(fields.Nested(MilestoneOut))
    assumptions = fields.List(fields.Nested(AssumptionOut))
    reviews = fields.List(fields.Nested(ReviewOut))

    @pre_dump
    def _unpack(self, at: PlanAt, **_: Any) -> dict[str, Any]:
        plan = at.view.plan
        return {
            "id": plan.id,
            "name": plan.name,
            "timezone": plan.timezone,
            "currency": plan.currency,
            "version": at.view.version,
            "members": [{"user": user, "role": role} for user, role in plan.members.items()],
            "review_cadence": at,
            "milestones": [Priced(m, plan.currency) for m in at.view.milestones],
            "assumptions": plan.assumptions,
            "reviews": plan.reviews,
        }


class PlanSummaryOut(Schema):
    id = fields.UUID()
    name = fields.String()
    timezone = fields.String()
    currency = fields.String()
    role = fields.Enum(Role, by_value=True, metadata={"description": "the caller's role"})

    @pre_dump
    def _unpack(self, listed: Listed, **_: Any) -> dict[str, Any]:
        plan = listed.plan
        return {
            "id": plan.id,
            "name": plan.name,
            "timezone": plan.timezone,
            "currency": plan.currency,
            "role": listed.role,
        }


class PlansOut(Schema):
    plans = fields.List(fields.Nested(PlanSummaryOut))


class ChangeOut(Schema):
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class HistoryEntryOut(Schema):
    position = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    type = fields.String()
    milestone_id = fields.UUID(allow_none=True)
    assumption_id = fields.UUID(allow_none=True)
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(ChangeOut))
    reason = fields.String(allow_none=True)


class HistoryPageOut(Schema):
    entries = fields.List(fields.Nested(HistoryEntryOut))
    next_cursor = fields.Integer(
        allow_none=True,
        metadata={"description": "pass as cursor for the next page; null: last page"},
    )


class SlipOut(Schema):
    milestone_id = fields.UUID()
    title = fields.String()
    old_due = fields.Date()
    new_due = fields.Date()
    days = fields.Integer()
    reasons = fields.List(fields.String())


class BudgetDeltaOut(Schema):
    before = Money()
    after = Money()
    delta = Money()


class ResolvedOut(Schema):
    id = fields.UUID()
    statement = fields.String()
    status = fields.Enum(AssumptionStatus, by_value=True)
    evidence = fields.String()


class ChangesOut(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    currency = fields.String()
    added = fields.List(fields.Nested(MilestoneOut))
    completed = fields.List(fields.Nested(MilestoneOut))
    cancelled = fields.List(fields.Nested(MilestoneOut))
    rescheduled = fields.List(fields.Nested(SlipOut))
    planned_budget = fields.Nested(BudgetDeltaOut)
    actual_cost = fields.Nested(BudgetDeltaOut)
    assumptions_resolved = fields.List(fields.Nested(ResolvedOut))

    @pre_dump
    def _unpack(self, report: Reported, **_: Any) -> dict[str, Any]:
        changes, currency = report
        return {
            "since": changes.since,
            "until": changes.until,
            "currency": currency,
            "added": [Priced(m, currency) for m in changes.added],
            "completed": [Priced(m, currency) for m in changes.completed],
            "cancelled": [Priced(m, currency) for m in changes.cancelled],
            "rescheduled": changes.rescheduled,
            "planned_budget": {
                "before": changes.planned_budget_before,
                "after": changes.planned_budget_after,
                "delta": changes.planned_budget_delta,
            },
            "actual_cost": {
                "before": changes.actual_cost_before,
                "after": changes.actual_cost_after,
                "delta": changes.actual_cost_delta,
            },
            "assumptions_resolved": [
                {"id": a_id, "statement": statement, "status": status, "evidence": evidence}
                for a_id, statement, status, evidence in changes.assumptions_resolved
            ],
        }


class ErrorOut(Schema):
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": 'messages per input field; "_request" for the request as a whole'},
    )
