"""The web UI: server-rendered HTML pages for people, one blueprint that brings the page areas together.

`create_app` registers `blueprint`; registering it also configures sessions and CSRF (see
web.session_auth), so the pages cannot be mounted without their protection.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask, redirect, render_template, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from domain.errors import DomainError
from web import (
    session_auth,
    ui_calendar_links,
    ui_feeds,
    ui_history,
    ui_members,
    ui_milestones,
    ui_plans,
    ui_review,
    ui_settings,
)
from web.errors import status_for
from web.ui_support import TEMPLATE_HELPERS

blueprint = Blueprint(
    "ui", __name__, template_folder="templates", static_folder="static", static_url_path="/ui-static"
)
for area in (
    session_auth, ui_plans, ui_milestones, ui_members, ui_review, ui_history, ui_calendar_links,
    ui_feeds, ui_settings,
):  # fmt: skip
    blueprint.register_blueprint(area.blueprint)

blueprint.before_request(session_auth.check_csrf)

ERROR_TITLES = {
    400: "This request could not be handled",
    401: "Please sign in",
    403: "You may not change this plan",
    404: "Not found",
    409: "That change conflicts with the plan",
    422: "That input was not accepted",
}


@blueprint.record_once
def _configure(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    session_auth.configure(app)
    app.jinja_env.globals.update(TEMPLATE_HELPERS)


@blueprint.app_context_processor
def _signed_in_user() -> dict[str, str | None]:
    return {"signed_in_user": session_auth.current_user()}


@blueprint.get("/")
def home() -> ResponseReturnValue:
    """Send people to their plans."""
    return redirect(url_for("ui.plan.index"), 302)


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    """Answer the pages' errors with a page, not the API's JSON."""
    code = error.code or 500
    title = ERROR_TITLES.get(code, error.name)
    message = error.description if code == 400 else _MESSAGES.get(code, error.description or "")
    return render_template("ui/error.html", title=title, message=message), code


@blueprint.errorhandler(DomainError)
def _domain_error(error: DomainError) -> ResponseReturnValue:
    """A broken rule that no form caught still gets a page with its reason, never a 500."""
    code = status_for(error)
    return render_template("ui/error.html", title=ERROR_TITLES.get(code, "Error"), message=str(error)), code


_MESSAGES = {
    403: "You can read this plan but not change it. Ask its owner to make you an editor.",
    404: "There is nothing here, or it is not shared with you.",
}
