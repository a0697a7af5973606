"""The review page: the agenda of the next plan review, and the form that records one held."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from domain.history import HistoryFilter
from domain.plan import Role
from domain.values import AssumptionStatus, MilestoneStatus
from domain.views import budget_report
from web.session_auth import actor, login_required
from web.timeline import budget_svg
from web.ui_plans import render_plan
from web.ui_support import (
    attempt,
    form_text,
    history_page,
    leanplan,
    load_plan,
    parse_date,
    plan_today,
)

blueprint = Blueprint("review", __name__, url_prefix="/plans/<uuid:plan_id>/review")

HORIZON_WITHOUT_REVIEWS = timedelta(days=31)


@blueprint.get("")
@login_required
def agenda(plan_id: UUID) -> ResponseReturnValue:
    """Show the agenda for the next review, built from the plan and what changed since the last one."""
    return render_agenda(plan_id)


@blueprint.post("")
@login_required
def hold(plan_id: UUID) -> ResponseReturnValue:
    """Record a review held, with its notes and one decision per line."""
    load_plan(plan_id, Role.EDITOR)
    on_agenda = request.form.get("back") == "review"
    return attempt(
        lambda: leanplan().hold_review(
            plan_id,
            held_on=parse_date(request.form.get("held_on"), "held_on"),
            notes=form_text("notes"),
            decisions=tuple(form_text("decisions").splitlines()),
            actor=actor(),
        ),
        success="Review recorded.",
        redirect_to=url_for("ui.review.agenda" if on_agenda else "ui.plan.show", plan_id=plan_id),
        rerender=lambda: render_agenda(plan_id) if on_agenda else render_plan(plan_id),
    )


def render_agenda(plan_id: UUID) -> str:
    app = leanplan()
    view = load_plan(plan_id)
    today = plan_today(view)
    held = sorted(view.plan.reviews, key=lambda review: review.held_on)
    last = held[-1] if held else None
    upcoming = view.next_reviews(today, count=1)
    next_day = upcoming[0][0] if upcoming else today + HORIZON_WITHOUT_REVIEWS
    since_day = last.held_on if last else date.min
    milestones = sorted(view.milestones, key=lambda m: (m.due, m.title.lower()))
    changes = app.changes(plan_id)
    cancelled = history_page(
        plan_id, HistoryFilter(types=frozenset({"MilestoneCancelled"}), since=changes.since), limit=200
    )
    budget = budget_report(view)
    return render_template(
        "ui/review.html",
        plan=view.plan,
        today=today,
        last=last,
        held=list(reversed(held)),
        next_review=upcoming[0] if upcoming else None,
        next_day=next_day,
        due_since=[m for m in milestones if since_day < m.due <= today],
        still_open=[m for m in milestones if m.due <= since_day and m.status == MilestoneStatus.PLANNED],
        coming_up=[
            m for m in milestones if today < m.due <= next_day and m.status == MilestoneStatus.PLANNED
        ],
        changes=changes,
        cancel_reasons={e.milestone_id: e.reason for e in cancelled.entries},
        open_assumptions=[a for a in view.plan.assumptions if a.status == AssumptionStatus.UNTESTED],
        budget=budget,
        budget_chart=Markup(budget_svg(budget.per_kind, view.plan.currency)),
        review_back="review",
    )
