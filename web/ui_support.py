"""Helpers shared by the HTML views: finding the application, reading form input, showing errors.

Forms re-render their page with the message next to the form that failed and the values the person
typed, so a rejected change costs them nothing but the fix; successful ones redirect (post/redirect/
get), so reloading never submits twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, redirect, request
from flask.typing import ResponseReturnValue

from adapters.history import HistoryReadModel
from domain.application import Leanplan
from domain.errors import AccessDenied, DomainError, InvalidInput, NotFound
from domain.history import HistoryFilter, HistoryPage
from domain.plan import Plan, Role
from domain.views import PlanView
from web.errors import status_for
from web.session_auth import actor


@dataclass(frozen=True)
class FormError:
    form_id: str
    message: str
    field: str | None


def leanplan() -> Leanplan:
    """The application the app factory opened."""
    app: Leanplan = current_app.extensions["leanplan"]
    return app


def history_page(plan_id: UUID, wanted: HistoryFilter, *, limit: int, after: int = 0) -> HistoryPage:
    """A page of the plan's history from the read side the API pages too: fast however long it is."""
    read_side: HistoryReadModel = current_app.extensions["leanplan_history"]
    return read_side.page(plan_id, wanted, limit=limit, after=after)


def load_plan(plan_id: UUID, needed: Role = Role.VIEWER) -> PlanView:
    """The plan now, if the signed-in user's role on it is at least `needed`.

    404 for a plan that does not exist or is not shared with the user (its existence stays
    hidden), 403 for a member whose role falls short. Remembers the role for `editable`.
    """
    app = leanplan()
    try:
        plan = app.authorize(plan_id, actor(), needed)
        view = app.plan(plan_id)
    except NotFound:
        abort(404)
    except AccessDenied:
        abort(403)
    g.plan_role = plan.role_of(actor())
    return view


def editable(needed: Role = Role.EDITOR) -> bool:
    """Whether the signed-in user may change the plan `load_plan` loaded: its forms show only then."""
    role: Role | None = g.get("plan_role")
    return role is not None and role.includes(needed)


def readable_plans() -> list[Plan]:
    """The plans the signed-in user is a member of."""
    return leanplan().plans_of(actor())


def plan_today(view: PlanView) -> date:
    """Today in the plan's own time zone: what 'overdue' and 'next review' are measured against."""
    return datetime.now(ZoneInfo(view.plan.timezone)).date()


def parse_date(text: str | None, field: str) -> date:
    """A date from an `<input type=date>`, or a domain error naming the field."""
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise InvalidInput("give a date as YYYY-MM-DD", field=field) from None


def parse_optional_date(text: str | None, field: str) -> date | None:
    return parse_date(text, field) if text and text.strip() else None


def parse_moment(text: str, zone: str, field: str) -> datetime:
    """An ISO moment or plain date; without an offset it is read in the plan's zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("give a date and time as YYYY-MM-DDTHH:MM", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def start_of_day(day: date, zone: str) -> datetime:
    """Just before a local day begins: history's `since` is exclusive, so the day counts whole."""
    midnight = datetime.combine(day, time.min, ZoneInfo(zone))
    return midnight.astimezone(UTC) - timedelta(microseconds=1)


def end_of_day(day: date, zone: str) -> datetime:
    """The last instant of a local day, so a date range includes the whole of its last day."""
    next_midnight = datetime.combine(day + timedelta(days=1), time.min, ZoneInfo(zone))
    return next_midnight.astimezone(UTC) - timedelta(microseconds=1)


def parse_uuid(text: str | None, field: str) -> UUID | None:
    if not text or not text.strip():
        return None
    try:
        return UUID(text.strip())
    except ValueError:
        raise InvalidInput("not a known choice", field=field) from None


def form_text(name: str) -> str:
    """A form field as the person typed it; browsers send CRLF line ends, the plan keeps LF."""
    return request.form.get(name, "").replace("\r\n", "\n")


def field_value(form_id: str, name: str, default: Any = "") -> Any:
    """What the person typed into this form before it was rejected, else the default."""
    if request.method == "POST" and request.form.get("form_id") == form_id:
        return request.form.get(name, default)
    return "" if default is None else default


def form_error(form_id: str) -> FormError | None:
    error: FormError | None = g.get("form_error")
    return error if error is not None and error.form_id == form_id else None


def attempt(
    command: Callable[[], object],
    *,
    success: str,
    redirect_to: str | Callable[[], str],
    rerender: Callable[[], str],
) -> ResponseReturnValue:
    """Run a command from a form: on success flash and redirect; on a broken rule re-render."""
    try:
        command()
    except NotFound:
        abort(404)
    except DomainError as error:
        field = error.field if isinstance(error, InvalidInput) else None
        g.form_error = FormError(request.form.get("form_id", ""), str(error), field)
        return rerender(), status_for(error)
    flash(success, "success")
    return redirect(redirect_to if isinstance(redirect_to, str) else redirect_to(), 303)


def local_time(moment: datetime, zone: str) -> str:
    """A moment as the plan's people read it: their local time, to the minute."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def humanize(name: str) -> str:
    """`MilestoneRescheduled` → `Milestone rescheduled`; `actual_cost` → `Actual cost`."""
    if "_" in name or name.islower():
        return name.replace("_", " ").capitalize()
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).split()
    return " ".join(words).capitalize()


def show_value(value: Any) -> str:
    """A history value (already plain: str, number, list, dict) as one line of text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict) and set(value) == {"name", "email"}:
        return f"{value['name']} <{value['email']}>"
    if isinstance(value, list):
        return "; ".join(show_value(item) for item in value) or "—"
    return str(value)


TEMPLATE_HELPERS: dict[str, Any] = {
    "Role": Role,
    "editable": editable,
    "field_value": field_value,
    "form_error": form_error,
    "humanize": humanize,
    "show_value": show_value,
    "local_time": local_time,
}
