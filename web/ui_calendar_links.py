"""The calendar links page: which calendars a plan is synced into, how each sync is doing, and the
forms that link and unlink one.

Linking goes through the same schema and the same functions as the API (web.calendar_links), so
both record the same events under the same rules. The password is read from the form, encrypted
and never put back into a page, not even when the form is shown again after a mistake.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from domain.calendar_links import ConflictPolicy, Direction
from domain.errors import InvalidInput
from domain.plan import Role
from domain.values import Kind
from web.calendar_links import (
    CalendarLinkIn,
    ensure_linkable,
    link_calendar,
    links_with_state,
    unlink_calendar,
)
from web.errors import flatten
from web.session_auth import actor, login_required
from web.ui_support import attempt, editable, load_plan

blueprint = Blueprint("calendar_links", __name__, url_prefix="/plans/<uuid:plan_id>/calendar-links")

FORM_ID = "link-calendar"
DIRECTIONS = (
    (Direction.TWO_WAY.value, "Two-way: write the plan there and take moved dates back"),
    (Direction.PUSH.value, "Push only: write the plan there"),
)
POLICIES = (
    (ConflictPolicy.PLAN_WINS.value, "The plan wins"),
    (ConflictPolicy.CALENDAR_WINS.value, "The calendar wins"),
)
_CHOICES = ("name", "url", "username", "password", "direction", "conflict_policy")


@blueprint.get("")
@login_required
def index(plan_id: UUID) -> ResponseReturnValue:
    """Show the plan's calendar links with their sync state, and the forms to change them."""
    return render_links(plan_id)


@blueprint.post("")
@login_required
def link(plan_id: UUID) -> ResponseReturnValue:
    """Link a calendar collection: the sync worker then writes the plan into it."""
    load_plan(plan_id, Role.EDITOR)
    return attempt(
        lambda: link_calendar(plan_id, _form_body(), actor()),
        success="Calendar linked. It is filled on the next sync.",
        redirect_to=url_for("ui.calendar_links.index", plan_id=plan_id),
        rerender=lambda: render_links(plan_id),
    )


@blueprint.post("/<uuid:link_id>/unlink")
@login_required
def unlink(plan_id: UUID, link_id: UUID) -> ResponseReturnValue:
    """Stop syncing a calendar, and on request remove what was written there."""
    load_plan(plan_id, Role.EDITOR)
    remove_items = request.form.get("remove_items") == "true"
    return attempt(
        lambda: unlink_calendar(plan_id, link_id, remove_items=remove_items, actor=actor()),
        success="Calendar unlinked."
        + (" What was written there is removed on the next sync." if remove_items else ""),
        redirect_to=url_for("ui.calendar_links.index", plan_id=plan_id),
        rerender=lambda: render_links(plan_id),
    )


def render_links(plan_id: UUID) -> str:
    view = load_plan(plan_id)
    unavailable = None
    if editable():
        try:
            ensure_linkable()
        except InvalidInput as error:
            unavailable = str(error)
    chosen_kinds = request.form.getlist("kinds") if _rejected_link_form() else []
    return render_template(
        "ui/calendar_links.html",
        plan=view.plan,
        links=links_with_state(view.plan),
        unavailable=unavailable,
        form_id=FORM_ID,
        directions=DIRECTIONS,
        policies=POLICIES,
        kinds=[(kind.value, kind.value.replace("_", " ")) for kind in Kind],
        chosen_kinds=chosen_kinds,
    )


def _rejected_link_form() -> bool:
    return request.method == "POST" and request.form.get("form_id") == FORM_ID


def _form_body() -> dict[str, Any]:
    """The form as the API's schema loads it: empty optional fields mean 'not given', so an
    empty owner email is no filter and no ticked kind means every kind."""
    data: dict[str, Any] = {name: request.form[name] for name in _CHOICES if name in request.form}
    if owner_email := request.form.get("owner_email", "").strip():
        data["owner_email"] = owner_email
    if kinds := request.form.getlist("kinds"):
        data["kinds"] = kinds
    try:
        body: dict[str, Any] = CalendarLinkIn().load(data)
    except ValidationError as error:
        field, messages = next(iter(flatten(error.messages).items()))
        raise InvalidInput(messages[0], field=field.split(".")[0]) from None
    return body
