"""Who may see and change a plan: the owner shares it with editors and viewers."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, request, url_for
from flask.typing import ResponseReturnValue

from domain.plan import Role
from web.session_auth import actor, login_required
from web.ui_plans import render_plan
from web.ui_support import attempt, leanplan, load_plan

blueprint = Blueprint("members", __name__, url_prefix="/plans/<uuid:plan_id>/members")


@blueprint.post("")
@login_required
def add(plan_id: UUID) -> ResponseReturnValue:
    """Share the plan with a user as editor or viewer, or change their role."""
    load_plan(plan_id, Role.OWNER)
    return attempt(
        lambda: leanplan().add_member(
            plan_id, request.form.get("user", "").strip(), request.form.get("role", ""), actor=actor()
        ),
        success="Member saved.",
        redirect_to=url_for("ui.plan.show", plan_id=plan_id, _anchor="members"),
        rerender=lambda: render_plan(plan_id),
    )


@blueprint.post("/<user>/remove")
@login_required
def remove(plan_id: UUID, user: str) -> ResponseReturnValue:
    """Stop sharing the plan with a user."""
    load_plan(plan_id, Role.OWNER)
    return attempt(
        lambda: leanplan().remove_member(plan_id, user, actor=actor()),
        success=f"{user} no longer has access.",
        redirect_to=url_for("ui.plan.show", plan_id=plan_id, _anchor="members"),
        rerender=lambda: render_plan(plan_id),
    )
