"""The plan's settings on its page: its name, its review cadence, and moving or skipping one review.

Editors and the owner see the forms; a viewer's post is refused (403) before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from uuid import UUID

from flask import Blueprint, request, url_for
from flask.typing import ResponseReturnValue

from domain.errors import InvalidInput, ReviewOccurrenceNotFound
from domain.plan import Plan, Role
from web.session_auth import actor, login_required
from web.ui_plans import render_plan
from web.ui_support import attempt, form_text, leanplan, load_plan, parse_date

blueprint = Blueprint("settings", __name__, url_prefix="/plans/<uuid:plan_id>/settings")

OCCURRENCES_SHOWN = 12
OCCURRENCE_HORIZON = timedelta(days=400)
"""Enough for a year of monthly reviews; a review further out is moved when it comes closer."""


@blueprint.app_template_global()
def review_occurrence_choices(plan: Plan, today: date) -> list[tuple[str, str]]:
    """The cadence's next reviews as (scheduled day, label) choices; a label says if it was moved
    or skipped, and the scheduled day is what identifies the review, even once it is moved."""
    days = plan.cadence.dates_between(today, today + OCCURRENCE_HORIZON)[:OCCURRENCES_SHOWN]
    moved, skipped = plan.moved_occurrences, plan.skipped_occurrences
    choices = []
    for day in days:
        label = day.strftime("%a %Y-%m-%d")
        if day in skipped:
            label += " (skipped)"
        elif day in moved:
            to = moved[day]
            label += f" (moved to {to.new_date.strftime('%a %Y-%m-%d')} at {to.new_time.strftime('%H:%M')})"
        choices.append((day.isoformat(), label))
    return choices


@blueprint.post("/name")
@login_required
def rename(plan_id: UUID) -> ResponseReturnValue:
    """Rename the plan."""
    return _run(
        plan_id,
        lambda: leanplan().rename_plan(plan_id, request.form.get("name", ""), actor=actor()),
        "Plan name saved.",
        "settings",
    )


@blueprint.post("/review-cadence")
@login_required
def set_cadence(plan_id: UUID) -> ResponseReturnValue:
    """Set when the plan is reviewed: an RRULE, a local start time and a duration."""
    form = request.form
    return _run(
        plan_id,
        lambda: leanplan().set_review_cadence(
            plan_id,
            rrule=form.get("rrule", ""),
            start_time=_parse_time(form.get("start_time"), "start_time"),
            duration_minutes=_parse_minutes(form.get("duration_minutes"), "duration_minutes"),
            actor=actor(),
        ),
        "Review cadence saved.",
        "reviews",
    )


@blueprint.post("/review-occurrences/move")
@login_required
def move_occurrence(plan_id: UUID) -> ResponseReturnValue:
    """Hold one review on another day or at another time; the rest of the series stays."""
    form = request.form
    return _run(
        plan_id,
        lambda: _on_occurrence(
            lambda occurrence: leanplan().move_review_occurrence(
                plan_id,
                occurrence,
                new_date=parse_date(form.get("new_date"), "new_date"),
                new_time=_parse_time(form.get("new_time"), "new_time"),
                reason=form_text("reason"),
                actor=actor(),
            )
        ),
        "Review moved.",
        "reviews",
    )


@blueprint.post("/review-occurrences/skip")
@login_required
def skip_occurrence(plan_id: UUID) -> ResponseReturnValue:
    """Cancel one review of the series, saying why."""
    return _run(
        plan_id,
        lambda: _on_occurrence(
            lambda occurrence: leanplan().skip_review_occurrence(
                plan_id, occurrence, reason=form_text("reason"), actor=actor()
            )
        ),
        "Review skipped.",
        "reviews",
    )


def _run(
    plan_id: UUID, command: Callable[[], object], success: str, anchor: str
) -> ResponseReturnValue:
    """Run a settings command for an editor or the owner; a broken rule re-renders the plan page."""
    load_plan(plan_id, Role.EDITOR)
    return attempt(
        command,
        success=success,
        redirect_to=url_for("ui.plan.show", plan_id=plan_id, _anchor=anchor),
        rerender=lambda: render_plan(plan_id),
    )


def _on_occurrence(command: Callable[[date], None]) -> None:
    """A day the cadence does not schedule is a wrong choice in the form, not a missing page."""
    occurrence = parse_date(request.form.get("occurrence"), "occurrence")
    try:
        command(occurrence)
    except ReviewOccurrenceNotFound as error:
        raise InvalidInput(str(error), field="occurrence") from None


def _parse_time(text: str | None, field: str) -> time:
    """A time from an `<input type=time>` (HH:MM, or HH:MM:SS when a browser adds seconds)."""
    try:
        parsed = time.fromisoformat((text or "").strip())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is not None:  # the plan's zone says where the time is
        raise InvalidInput("give a time as HH:MM", field=field)
    return parsed


def _parse_minutes(text: str | None, field: str) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        raise InvalidInput("give the duration in whole minutes", field=field) from None
