"""The JSON API under /api/v1: parse with the schemas, check the caller's role, call the domain.

Views stay thin. The authenticated user is the actor of every event; a non-member of a plan gets
404 for it and everything in it, a viewer's writes get 403, and a write that sends `If-Match` is
refused with 412 unless it names the plan's current version (the ETag of `GET /plans/{id}`).
Domain errors travel up to web.errors, which turns them into HTTP answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Flask, current_app, url_for
from flask_smorest import Api
from marshmallow import RAISE

from adapters.history import HistoryReadModel
from domain.errors import AssumptionNotFound, InvalidInput
from domain.history import HistoryFilter, HistoryPage
from domain.milestone import Milestone
from domain.plan import Assumption, Plan, Review, Role
from domain.views import PlanView
from web import schemas
from web.api_support import ApiBlueprint, current_leanplan, readable_plan, writable_plan
from web.auth import authenticate, current_user
from web.schemas import Listed, Money, PlanAt, Priced, Reported

PREFIX = "/api/v1"
ETAG = {"ETag": {"description": "the plan's version", "schema": {"type": "string"}}}
LOCATION = {"Location": {"description": "the new plan's URL", "schema": {"type": "string"}}}


class _Api(Api):
    """flask-smorest, documenting errors in this API's own shape (web.errors builds them)."""

    ERROR_SCHEMA = schemas.ErrorOut

    def _register_error_handlers(self) -> None:
        """web.errors answers every error; flask-smorest's own shape would differ."""


blp = ApiBlueprint(
    "api", __name__, url_prefix=PREFIX, description="Lean Plans, their milestones and history"
)
blp.before_request(authenticate)


def init_app(app: Flask) -> None:
    """Serve the API and its OpenAPI document (at /api/v1/openapi.json, which needs no token)."""
    app.config.setdefault("API_TITLE", "leanplan")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {"security": [{"bearerAuth": []}]})
    api = _Api(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_field(Money, "string", "decimal")
    api.register_blueprint(blp)


# Access (web.api_support) and the plan's clock.


def _today(plan: Plan, moment: datetime | None = None) -> date:
    """The day in the plan's zone at `moment` (default now): what its next reviews count from."""
    return (moment or datetime.now(UTC)).astimezone(ZoneInfo(plan.timezone)).date()


def _etag(view: PlanView) -> dict[str, str]:
    return {"ETag": f'"{view.version}"'}


# Plans.


@blp.route("/plans", methods=["POST"])
@blp.arguments(schemas.PlanIn)
@blp.response(201, schemas.PlanOut, headers=ETAG | LOCATION)
@blp.documents()
def create_plan(body: dict[str, Any]) -> tuple[PlanAt, int, dict[str, str]]:
    """Start a plan; the caller becomes its owner."""
    plan_id = current_leanplan().start_plan(
        body["name"], timezone=body["timezone"], currency=body["currency"], actor=current_user()
    )
    view = current_leanplan().plan(plan_id)
    headers = _etag(view) | {"Location": url_for(".get_plan", plan_id=plan_id)}
    return PlanAt(view, _today(view.plan)), 201, headers


@blp.route("/plans", methods=["GET"])
@blp.response(200, schemas.PlansOut)
@blp.documents()
def list_plans() -> dict[str, list[Listed]]:
    """List the plans the caller is a member of."""
    user = current_user()
    plans = current_leanplan().plans_of(user)
    return {"plans": [Listed(plan, plan.members[user]) for plan in plans]}


@blp.route("/plans/<uuid:plan_id>", methods=["GET"])
@blp.arguments(schemas.AsOfQuery, location="query", unknown=RAISE)
@blp.response(200, schemas.PlanOut, headers=ETAG)
@blp.documents(404)
def get_plan(query: dict[str, Any], plan_id: UUID) -> tuple[PlanAt, int, dict[str, str]]:
    """Show the plan now, or as it stood at `as_of` (a moment in the future is now)."""
    plan = readable_plan(plan_id)
    as_of: datetime | None = query.get("as_of")
    now = datetime.now(UTC)
    if as_of is None or as_of >= now:
        view = current_leanplan().plan(plan_id)
        today = _today(plan)
    else:
        view = current_leanplan().plan_as_of(plan_id, at=as_of)
        today = _today(plan, as_of)
    return PlanAt(view, today), 200, _etag(view)


# Milestones.


@blp.route("/plans/<uuid:plan_id>/milestones", methods=["POST"])
@blp.arguments(schemas.MilestoneIn)
@blp.response(201, schemas.MilestoneOut)
@blp.writes
def add_milestone(body: dict[str, Any], plan_id: UUID) -> Priced:
    """Add a milestone to the plan."""
    plan = writable_plan(plan_id)
    try:
        milestone_id = current_leanplan().add_milestone(plan_id, actor=current_user(), **body)
    except AssumptionNotFound as error:
        raise InvalidInput(str(error), field="assumption_id") from None
    return Priced(current_leanplan().milestone(milestone_id), plan.currency)


def _change_milestone(plan_id: UUID, command: Callable[..., Milestone]) -> Priced:
    """Run `command(application, actor=..., plan_id=...)` on a milestone of a plan the caller may
    change, and answer with the milestone it saved. Given the plan, the command refuses another
    plan's milestone in the one load it needs anyway: a check first and a reload after would make
    it three."""
    plan = writable_plan(plan_id)
    milestone = command(current_leanplan(), actor=current_user(), plan_id=plan_id)
    return Priced(milestone, plan.currency)


@blp.route("/plans/<uuid:plan_id>/milestones/<uuid:milestone_id>", methods=["PATCH"])
@blp.arguments(schemas.MilestonePatch)
@blp.response(200, schemas.MilestoneOut)
@blp.writes
def edit_milestone(body: dict[str, Any], plan_id: UUID, milestone_id: UUID) -> Priced:
    """Change a milestone's title, description, budget or owner, all or nothing."""
    return _change_milestone(
        plan_id,
        lambda app, **scope: app.edit_milestone(milestone_id, **scope, **body),
    )


@blp.route("/plans/<uuid:plan_id>/milestones/<uuid:milestone_id>/reschedule", methods=["POST"])
@blp.arguments(schemas.RescheduleIn)
@blp.response(200, schemas.MilestoneOut)
@blp.writes
def reschedule(body: dict[str, Any], plan_id: UUID, milestone_id: UUID) -> Priced:
    """Move a milestone's due date, saying why."""
    return _change_milestone(
        plan_id,
        lambda app, **scope: app.reschedule(
            milestone_id, body["due"], reason=body["reason"], **scope
        ),
    )


@blp.route("/plans/<uuid:plan_id>/milestones/<uuid:milestone_id>/complete", methods=["POST"])
@blp.arguments(schemas.CompleteIn, required=False)
@blp.response(200, schemas.MilestoneOut)
@blp.writes
def complete(body: dict[str, Any], plan_id: UUID, milestone_id: UUID) -> Priced:
    """Mark a milestone done, with its actual cost."""
    return _change_milestone(
        plan_id, lambda app, **scope: app.complete(milestone_id, **scope, **body)
    )


@blp.route("/plans/<uuid:plan_id>/milestones/<uuid:milestone_id>/reopen", methods=["POST"])
@blp.arguments(schemas.ReasonIn)
@blp.response(200, schemas.MilestoneOut)
@blp.writes
def reopen(body: dict[str, Any], plan_id: UUID, milestone_id: UUID) -> Priced:
    """Reopen a done or cancelled milestone, saying why."""
    return _change_milestone(
        plan_id,
        lambda app, **scope: app.reopen(milestone_id, reason=body["reason"], **scope),
    )


@blp.route("/plans/<uuid:plan_id>/milestones/<uuid:milestone_id>/cancel", methods=["POST"])
@blp.arguments(schemas.ReasonIn)
@blp.response(200, schemas.MilestoneOut)
@blp.writes
def cancel(body: dict[str, Any], plan_id: UUID, milestone_id: UUID) -> Priced:
    """Cancel a milestone, saying why."""
    return _change_milestone(
        plan_id,
        lambda app, **scope: app.cancel(milestone_id, reason=body["reason"], **scope),
    )


# Assumptions, review cadence and reviews.


@blp.route("/plans/<uuid:plan_id>/assumptions", methods=["POST"])
@blp.arguments(schemas.AssumptionIn)
@blp.response(201, schemas.AssumptionOut)
@blp.writes
def add_assumption(body: dict[str, Any], plan_id: UUID) -> Assumption:
    """Record an assumption the plan rests on."""
    writable_plan(plan_id)
    assumption_id = current_leanplan().add_assumption(plan_id, actor=current_user(), **body)
    return readable_plan(plan_id).assumption(assumption_id)


@blp.route("/plans/<uuid:plan_id>/assumptions/<uuid:assumption_id>/validate", methods=["POST"])
@blp.arguments(schemas.EvidenceIn)
@blp.response(200, schemas.AssumptionOut)
@blp.writes
def validate_assumption(body: dict[str, Any], plan_id: UUID, assumption_id: UUID) -> Assumption:
    """Mark an assumption validated, with the evidence."""
    writable_plan(plan_id)
    current_leanplan().validate_assumption(
        plan_id, assumption_id, evidence=body["evidence"], actor=current_user()
    )
    return readable_plan(plan_id).assumption(assumption_id)


@blp.route("/plans/<uuid:plan_id>/assumptions/<uuid:assumption_id>/invalidate", methods=["POST"])
@blp.arguments(schemas.EvidenceIn)
@blp.response(200, schemas.AssumptionOut)
@blp.writes
def invalidate_assumption(body: dict[str, Any], plan_id: UUID, assumption_id: UUID) -> Assumption:
    """Mark an assumption invalidated, with the evidence."""
    writable_plan(plan_id)
    current_leanplan().invalidate_assumption(
        plan_id, assumption_id, evidence=body["evidence"], actor=current_user()
    )
    return readable_plan(plan_id).assumption(assumption_id)


@blp.route("/plans/<uuid:plan_id>/review-cadence", methods=["PUT"])
@blp.arguments(schemas.CadenceIn)
@blp.response(200, schemas.CadenceOut)
@blp.writes
def set_review_cadence(body: dict[str, Any], plan_id: UUID) -> PlanAt:
    """Set when the plan is reviewed: an RRULE, a local start time and a duration."""
    writable_plan(plan_id)
    current_leanplan().set_review_cadence(plan_id, actor=current_user(), **body)
    plan = readable_plan(plan_id)
    return PlanAt(PlanView(plan, ()), _today(plan))


@blp.route("/plans/<uuid:plan_id>/reviews", methods=["POST"])
@blp.arguments(schemas.ReviewIn)
@blp.response(201, schemas.ReviewOut)
@blp.writes
def hold_review(body: dict[str, Any], plan_id: UUID) -> Review:
    """Record a review meeting held, with its notes and decisions."""
    writable_plan(plan_id)
    current_leanplan().hold_review(
        plan_id,
        held_on=body["held_on"],
        notes=body["notes"],
        decisions=tuple(body["decisions"]),
        actor=current_user(),
    )
    return readable_plan(plan_id).reviews[-1]


# History and the review report.


@blp.route("/plans/<uuid:plan_id>/history", methods=["GET"])
@blp.arguments(schemas.HistoryQuery, location="query", unknown=RAISE)
@blp.response(200, schemas.HistoryPageOut)
@blp.documents(404)
def history(query: dict[str, Any], plan_id: UUID) -> HistoryPage:
    """Page through the plan's changes, oldest first, filtered by milestone, actor, type or time."""
    readable_plan(plan_id)
    wanted = HistoryFilter(
        milestone_id=query.get("milestone"),
        actor=query.get("actor"),
        types=frozenset(query.get("type", ())),
        since=query.get("since"),
        until=query.get("until"),
    )
    read_side: HistoryReadModel = current_app.extensions["leanplan_history"]
    return read_side.page(plan_id, wanted, limit=query["limit"], after=query["cursor"])


@blp.route("/plans/<uuid:plan_id>/changes", methods=["GET"])
@blp.arguments(schemas.ChangesQuery, location="query", unknown=RAISE)
@blp.response(200, schemas.ChangesOut)
@blp.documents(404)
def changes(query: dict[str, Any], plan_id: UUID) -> Reported:
    """Report what changed between two moments; by default since the last review held."""
    plan = readable_plan(plan_id)
    report = current_leanplan().changes(plan_id, since=query.get("since"), until=query.get("until"))
    return Reported(report, plan.currency)


# Members.


@blp.route("/plans/<uuid:plan_id>/members", methods=["POST"])
@blp.arguments(schemas.MemberIn)
@blp.response(201, schemas.MemberOut, description="added")
@blp.alt_response(
    200, schema=schemas.MemberOut, description="already a member: role set", success=True
)
@blp.writes
def add_member(body: dict[str, Any], plan_id: UUID) -> tuple[dict[str, Any], int]:
    """Add a user to the plan as editor or viewer, or change a member's role (owner only)."""
    plan = writable_plan(plan_id, Role.OWNER)
    leanplan = current_leanplan()
    leanplan.add_member(plan_id, body["user"], body["role"], actor=current_user())
    name = leanplan.user(body["user"]).name
    return {"user": name, "role": Role(body["role"])}, 200 if plan.role_of(name) else 201


@blp.route("/plans/<uuid:plan_id>/members/<user>", methods=["DELETE"])
@blp.response(204)
@blp.writes
def remove_member(plan_id: UUID, user: str) -> None:
    """Remove a member from the plan (owner only)."""
    writable_plan(plan_id, Role.OWNER)
    current_leanplan().remove_member(plan_id, user, actor=current_user())
