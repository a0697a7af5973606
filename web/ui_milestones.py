"""HTML views of milestones: the milestone page with its own history, and the forms that change it."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from domain.errors import AssumptionNotFound, MilestoneNotFound
from domain.history import HistoryFilter
from domain.milestone import Milestone
from domain.plan import Role
from domain.values import Person
from web.session_auth import actor, login_required
from web.ui_plans import render_plan
from web.ui_support import (
    attempt,
    form_text,
    history_page,
    leanplan,
    load_plan,
    parse_date,
    parse_optional_date,
    parse_uuid,
    plan_today,
)

blueprint = Blueprint("milestone", __name__, url_prefix="/plans/<uuid:plan_id>/milestones")

HISTORY_LIMIT = 500


@blueprint.get("/<uuid:milestone_id>")
@login_required
def show(plan_id: UUID, milestone_id: UUID) -> ResponseReturnValue:
    """Show a milestone: its dates, slip, money and its own history, oldest change first."""
    return render_milestone(plan_id, milestone_id)


@blueprint.post("")
@login_required
def add(plan_id: UUID) -> ResponseReturnValue:
    """Add a milestone to the plan."""
    load_plan(plan_id, Role.EDITOR)
    form = request.form

    def add_milestone() -> None:
        leanplan().add_milestone(
            plan_id,
            title=form.get("title", ""),
            description=form_text("description"),
            kind=form.get("kind", ""),
            due=parse_date(form.get("due"), "due"),
            budget=form.get("budget", "").strip() or "0",
            owner=_owner(form.get("owner_name", ""), form.get("owner_email", "")),
            assumption_id=parse_uuid(form.get("assumption_id"), "assumption_id"),
            actor=actor(),
        )

    return attempt(
        add_milestone,
        success="Milestone added.",
        redirect_to=url_for("ui.plan.show", plan_id=plan_id, _anchor="milestones"),
        rerender=lambda: render_plan(plan_id),
    )


@blueprint.post("/<uuid:milestone_id>/edit")
@login_required
def edit(plan_id: UUID, milestone_id: UUID) -> ResponseReturnValue:
    """Change a milestone's title, description, owner or budget (a budget change needs a reason)."""
    milestone = _milestone(plan_id, milestone_id)
    return _run(plan_id, milestone_id, lambda: _edit(milestone), "Milestone saved.")


@blueprint.post("/<uuid:milestone_id>/reschedule")
@login_required
def reschedule(plan_id: UUID, milestone_id: UUID) -> ResponseReturnValue:
    """Move a milestone's due date, saying why."""
    load_plan(plan_id, Role.EDITOR)
    form = request.form
    return _run(
        plan_id,
        milestone_id,
        lambda: leanplan().reschedule(
            milestone_id,
            parse_date(form.get("due"), "due"),
            reason=form.get("reason", ""),
            actor=actor(),
            plan_id=plan_id,
        ),
        "Milestone rescheduled.",
    )


@blueprint.post("/<uuid:milestone_id>/complete")
@login_required
def complete(plan_id: UUID, milestone_id: UUID) -> ResponseReturnValue:
    """Mark a milestone done, with its actual cost."""
    load_plan(plan_id, Role.EDITOR)
    form = request.form
    return _run(
        plan_id,
        milestone_id,
        lambda: leanplan().complete(
            milestone_id,
            completed_on=parse_optional_date(form.get("completed_on"), "completed_on"),
            actual_cost=form.get("actual_cost", "").strip() or None,
            note=form_text("note"),
            actor=actor(),
            plan_id=plan_id,
        ),
        "Milestone done.",
    )


@blueprint.post("/<uuid:milestone_id>/<any(reopen, cancel):transition>")
@login_required
def reopen_or_cancel(plan_id: UUID, milestone_id: UUID, transition: str) -> ResponseReturnValue:
    """Reopen a done or cancelled milestone, or cancel a planned one, saying why."""
    load_plan(plan_id, Role.EDITOR)
    app = leanplan()
    command = app.reopen if transition == "reopen" else app.cancel
    return _run(
        plan_id,
        milestone_id,
        lambda: command(
            milestone_id, reason=request.form.get("reason", ""), actor=actor(), plan_id=plan_id
        ),
        "Milestone reopened." if transition == "reopen" else "Milestone cancelled.",
    )


def render_milestone(plan_id: UUID, milestone_id: UUID) -> str:
    view = load_plan(plan_id)
    try:
        milestone = view.milestone(milestone_id)
    except MilestoneNotFound:
        abort(404)
    assumption = None
    if milestone.assumption_id is not None:
        try:
            assumption = view.plan.assumption(milestone.assumption_id)
        except AssumptionNotFound:
            assumption = None
    history = history_page(plan_id, HistoryFilter(milestone_id=milestone_id), limit=HISTORY_LIMIT)
    return render_template(
        "ui/milestone.html",
        plan=view.plan,
        m=milestone,
        assumption=assumption,
        entries=history.entries,
        more_history=history.next_cursor is not None,
        today=plan_today(view),
    )


def _milestone(plan_id: UUID, milestone_id: UUID) -> Milestone:
    """The milestone, if it belongs to this plan and the user may change the plan; else 404/403."""
    load_plan(plan_id, Role.EDITOR)
    try:
        return leanplan().milestone_in(plan_id, milestone_id)
    except MilestoneNotFound:
        abort(404)


def _run(
    plan_id: UUID, milestone_id: UUID, command: Callable[[], object], success: str
) -> ResponseReturnValue:
    """Run a milestone command; errors re-render the page the form was on."""
    if request.form.get("back") == "milestone":
        page = url_for("ui.milestone.show", plan_id=plan_id, milestone_id=milestone_id)
        return attempt(
            command,
            success=success,
            redirect_to=page,
            rerender=lambda: render_milestone(plan_id, milestone_id),
        )
    page = url_for("ui.plan.show", plan_id=plan_id, _anchor="milestones")
    return attempt(command, success=success, redirect_to=page, rerender=lambda: render_plan(plan_id))


def _edit(milestone: Milestone) -> None:
    """All fields in one change: the application saves every edit or, if one is refused, none."""
    form = request.form
    leanplan().edit_milestone(
        milestone.id,
        title=form.get("title", ""),
        description=form_text("description"),
        owner=_owner(form.get("owner_name", ""), form.get("owner_email", "")),
        budget=form.get("budget", "").strip() or milestone.budget,
        reason=form.get("reason", "").strip() or None,
        actor=actor(),
    )


def _owner(name: str, email: str) -> Person:
    return Person(name.strip(), email.strip())
