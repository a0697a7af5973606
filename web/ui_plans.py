"""HTML views of plans: the list, the plan page (now or as of a past moment) and its assumptions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Blueprint, g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from domain.errors import InvalidInput, PlanNotFound
from domain.milestone import Milestone
from domain.plan import Role
from domain.values import AssumptionStatus, Kind, MilestoneStatus
from domain.views import PlanView, budget_report
from web.session_auth import actor, login_required
from web.timeline import budget_svg, timeline_svg
from web.ui_support import (
    FormError,
    attempt,
    form_text,
    leanplan,
    load_plan,
    parse_moment,
    plan_today,
    readable_plans,
)

blueprint = Blueprint("plan", __name__, url_prefix="/plans")

KINDS = [(k.value, k.value.replace("_", " ").capitalize()) for k in Kind]
MAX_CHART_ROWS = 60
MAX_INLINE_FORMS = 25
"""Beyond these, a plan page would grow to megabytes: the chart and the inline forms need a filter."""
STATUSES = [(s.value, s.value.capitalize()) for s in MilestoneStatus] + [("overdue", "Overdue")]


@blueprint.get("")
@login_required
def index() -> ResponseReturnValue:
    """List the plans the signed-in user can see, with a form to start one."""
    return render_plans()


@blueprint.post("")
@login_required
def create() -> ResponseReturnValue:
    """Start a plan from the form; the signed-in user owns it."""
    created: list[UUID] = []

    def start() -> None:
        created.append(
            leanplan().start_plan(
                request.form.get("name", ""),
                actor=actor(),
                timezone=request.form.get("timezone", "").strip() or "UTC",
                currency=request.form.get("currency", "").strip().upper() or "USD",
            )
        )

    return attempt(
        start,
        success="Plan started.",
        redirect_to=lambda: url_for("ui.plan.show", plan_id=created[0]),
        rerender=render_plans,
    )


@blueprint.get("/<uuid:plan_id>")
@login_required
def show(plan_id: UUID) -> ResponseReturnValue:
    """Show the plan: milestones, timeline, reviews, assumptions and the forms that change them."""
    as_of = request.args.get("as_of", "")
    if not as_of:
        return render_plan(plan_id)
    view = load_plan(plan_id)
    try:
        moment = parse_moment(as_of, view.plan.timezone, "as_of")
        past = leanplan().plan_as_of(plan_id, at=moment)
    except InvalidInput as error:
        return render_plan(plan_id, notice=str(error)), 422
    except PlanNotFound:
        return render_plan(plan_id, notice=f"The plan did not exist yet at {as_of}."), 404
    return render_plan(plan_id, view=past, as_of=moment)


@blueprint.post("/<uuid:plan_id>/assumptions")
@login_required
def add_assumption(plan_id: UUID) -> ResponseReturnValue:
    """State a new assumption the plan rests on."""
    load_plan(plan_id, Role.EDITOR)
    return attempt(
        lambda: leanplan().add_assumption(
            plan_id,
            form_text("statement"),
            test=form_text("test"),
            success_criterion=form_text("success_criterion"),
            actor=actor(),
        ),
        success="Assumption added.",
        redirect_to=url_for("ui.plan.show", plan_id=plan_id, _anchor="assumptions"),
        rerender=lambda: render_plan(plan_id),
    )


@blueprint.post("/<uuid:plan_id>/assumptions/<uuid:assumption_id>/<any(validate, invalidate):verdict>")
@login_required
def resolve_assumption(plan_id: UUID, assumption_id: UUID, verdict: str) -> ResponseReturnValue:
    """Record the evidence that validated or invalidated an assumption."""
    load_plan(plan_id, Role.EDITOR)
    app = leanplan()
    command = app.validate_assumption if verdict == "validate" else app.invalidate_assumption
    return attempt(
        lambda: command(plan_id, assumption_id, evidence=form_text("evidence"), actor=actor()),
        success=f"Assumption {verdict}d.",
        redirect_to=url_for("ui.plan.show", plan_id=plan_id, _anchor="assumptions"),
        rerender=lambda: render_plan(plan_id),
    )


def render_plans() -> str:
    plans = sorted(readable_plans(), key=lambda plan: plan.name.lower())
    return render_template("ui/plans.html", plans=plans)


def render_plan(
    plan_id: UUID, *, view: PlanView | None = None, as_of: datetime | None = None, notice: str = ""
) -> str:
    """The plan page; a past `view` is shown read-only, with `as_of` as its 'today'."""
    view = view or load_plan(plan_id)
    zone = ZoneInfo(view.plan.timezone)
    today = as_of.astimezone(zone).date() if as_of else plan_today(view)
    rows = _filtered(view, today)
    charted = _nearest(rows, today)
    review_span = [d for m in charted for d in (m.due, m.original_due)] + [today]
    reviews = view.plan.review_dates(
        min(review_span) - timedelta(days=31), max(review_span) + timedelta(days=31)
    )
    budget = budget_report(view)
    return render_template(
        "ui/plan.html",
        view=view,
        plan=view.plan,
        rows=rows,
        today=today,
        as_of=as_of,
        notice=notice,
        kinds=KINDS,
        statuses=STATUSES,
        owners=sorted({m.owner for m in view.milestones}, key=lambda p: (p.name.lower(), p.email)),
        open_assumptions=[a for a in view.plan.assumptions if a.status == AssumptionStatus.UNTESTED],
        next_reviews=[] if as_of else view.next_reviews(today),
        assumption_options=[("", "None")] + [(str(a.id), a.statement) for a in view.plan.assumptions],
        sort_link=_sort_link(view.plan.id),
        budget=budget,
        charted=len(charted),
        inline_rows=_inline(rows),
        max_inline_forms=MAX_INLINE_FORMS,
        timeline=Markup(timeline_svg(charted, today, [d for d, _ in reviews])),
        budget_chart=Markup(budget_svg(budget.per_kind, view.plan.currency)),
    )


def _filtered(view: PlanView, today: date) -> list[Milestone]:
    """The milestones the GET parameters ask for, sorted by due date (`sort=-due` for latest first)."""
    kind, owner, status = (request.args.get(k, "") for k in ("kind", "owner", "status"))
    rows = [
        m
        for m in view.milestones
        if (not kind or m.kind.value == kind)
        and (not owner or m.owner.email == owner)
        and (
            not status
            or m.status.value == status
            or (status == "overdue" and m.status == MilestoneStatus.PLANNED and m.due < today)
        )
    ]
    rows.sort(key=lambda m: (m.due, m.title.lower()), reverse=request.args.get("sort") == "-due")
    return rows


def _nearest(rows: list[Milestone], today: date) -> list[Milestone]:
    """The milestones the chart shows: all of them, or in a large plan those due nearest today."""
    if len(rows) <= MAX_CHART_ROWS:
        return rows
    return sorted(rows, key=lambda m: abs((m.due - today).days))[:MAX_CHART_ROWS]


def _inline(rows: list[Milestone]) -> list[Milestone]:
    """The milestones whose forms the page carries; in a large plan, only one whose form just failed."""
    if len(rows) <= MAX_INLINE_FORMS:
        return rows
    failed: FormError | None = g.get("form_error")
    return [m for m in rows if failed is not None and failed.form_id.endswith(str(m.id))]


def _sort_link(plan_id: UUID) -> str:
    """The same filters with the due-date order flipped; only known parameters are carried over."""
    kept: dict[str, Any] = {
        k: request.args[k] for k in ("kind", "owner", "status", "as_of") if request.args.get(k)
    }
    flipped = "due" if request.args.get("sort") == "-due" else "-due"
    return url_for("ui.plan.show", plan_id=plan_id, sort=flipped, **kept)
