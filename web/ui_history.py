"""The plan history page: every change in order, filtered and paged, and the way back in time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from domain.errors import InvalidInput
from domain.history import HistoryFilter
from domain.milestone import Milestone
from domain.plan import Plan
from web.session_auth import login_required
from web.ui_support import (
    end_of_day,
    history_page,
    leanplan,
    load_plan,
    parse_optional_date,
    parse_uuid,
    start_of_day,
)

blueprint = Blueprint("history", __name__, url_prefix="/plans/<uuid:plan_id>/history")

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
FILTERS = ("milestone", "actor", "type", "since", "until", "limit")


def _event_types() -> list[str]:
    """Every kind of change a plan records, for the type filter."""
    names = set()
    for owner in (Plan, Milestone):
        for attribute in vars(owner).values():
            if (
                isinstance(attribute, type)
                and issubclass(attribute, owner.Event)
                and attribute is not owner.Event
            ):
                names.add(attribute.__name__)
    return sorted(names)


EVENT_TYPES = _event_types()


@blueprint.get("")
@login_required
def index(plan_id: UUID) -> ResponseReturnValue:
    """Show the plan's changes in order, filtered and paged, and what changed since the last review."""
    view = load_plan(plan_id)
    zone = view.plan.timezone
    error = ""
    try:
        wanted, limit, after = _query(zone)
    except InvalidInput as invalid:
        error = str(invalid)
        wanted, limit, after = HistoryFilter(), PAGE_SIZE, 0
    app = leanplan()
    page = history_page(plan_id, wanted, limit=limit, after=after)
    html = render_template(
        "ui/history.html",
        plan=view.plan,
        view=view,
        entries=page.entries,
        filtered=any(request.args.get(k) for k in FILTERS if k != "limit"),
        error=error,
        event_types=EVENT_TYPES,
        chosen_types=request.args.getlist("type"),
        titles={m.id: m.title for m in view.milestones},
        statements={a.id: a.statement for a in view.plan.assumptions},
        as_of_links=True,
        next_url=_page_url(plan_id, page.next_cursor) if page.next_cursor else None,
        first_url=_page_url(plan_id, 0) if after else None,
        changes=app.changes(plan_id),
        now_local=datetime.now(UTC).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M"),
    )
    return html, 422 if error else 200


def _query(zone: str) -> tuple[HistoryFilter, int, int]:
    """The filter, page size and cursor from the query string; bad values are input errors."""
    args = request.args
    since = parse_optional_date(args.get("since"), "since")
    until = parse_optional_date(args.get("until"), "until")
    wanted = HistoryFilter(
        milestone_id=parse_uuid(args.get("milestone"), "milestone"),
        actor=args.get("actor", "").strip() or None,
        types=frozenset(t for t in args.getlist("type") if t),
        since=start_of_day(since, zone) if since else None,
        until=end_of_day(until, zone) if until else None,
    )
    return (
        wanted,
        _number(args.get("limit"), PAGE_SIZE, "limit", 1, MAX_PAGE_SIZE),
        _number(args.get("after"), 0, "after", 0, None),
    )


def _number(text: str | None, default: int, field: str, low: int, high: int | None) -> int:
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        raise InvalidInput(f"{field} must be a whole number", field=field) from None
    if number < low or (high is not None and number > high):
        raise InvalidInput(f"{field} is out of range", field=field)
    return number


def _page_url(plan_id: UUID, after: int) -> str:
    args: dict[str, Any] = {k: request.args.getlist(k) for k in FILTERS if request.args.get(k)}
    if after:
        args["after"] = after
    return url_for("ui.history.index", plan_id=plan_id, **args)
