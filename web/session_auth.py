"""Browser sign-in: name and password, a signed session cookie, and a CSRF token on every form.

The JSON API authenticates each request with a bearer token and never reads cookies, so it needs no
CSRF defence; the HTML pages do, because a browser attaches the session cookie to any request,
including a form another site makes it post. Each session carries a random token that every form
repeats in a hidden field, and every POST to the pages is refused unless the two match.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from adapters.config import BASE_URL
from adapters.credentials import hash_password, verify_password
from domain.application import Leanplan
from domain.errors import UserNotFound

log = logging.getLogger(__name__)

SECRET_KEY_ENV = "LEANPLAN_SECRET_KEY"
USER_KEY = "user"
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

blueprint = Blueprint("session_auth", __name__)


def configure(app: Flask) -> None:
    """Set the signing key and cookie flags, unless the configuration already chose them."""
    if not app.config.get("SECRET_KEY"):
        key = os.environ.get(SECRET_KEY_ENV, "").strip()
        if not key:
            key = secrets.token_urlsafe(48)
            log.warning(
                "%s is not set: using a random key for this process only, so sessions end when it "
                "restarts and are not shared between workers. Set it in production.",
                SECRET_KEY_ENV,
            )
        app.config["SECRET_KEY"] = key
    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):  # Flask's default is always set
        app.config["SESSION_COOKIE_NAME"] = "leanplan_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    base_url = app.config.get(BASE_URL.name) or BASE_URL.text(os.environ)
    if str(base_url).lower().startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True  # served over TLS: never send it in clear
    if app.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.jinja_env.globals[CSRF_FIELD] = csrf_token


def current_user() -> str | None:
    """The signed-in user's name, or None."""
    return cast(str | None, session.get(USER_KEY))


def actor() -> str:
    """The signed-in user, the actor of every change made through the pages."""
    name = current_user()
    if name is None:
        abort(401)
    return name


def csrf_token() -> str:
    """This session's CSRF token, made on first use so that even the sign-in form carries one."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse any state-changing request whose form does not repeat the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get(CSRF_KEY)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400, "This form has expired or was sent from another site. Reload the page and try again.")


def login_required(view: F) -> F:
    """Send visitors who are not signed in to the sign-in page, coming back here afterwards."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_user() is None:
            back = request.full_path if request.method == "GET" else request.path
            return redirect(url_for("ui.session_auth.sign_in", next=back.rstrip("?")), 303)
        return view(*args, **kwargs)

    return cast(F, wrapper)


def safe_next(target: str | None) -> str:
    """Only a path on this site, so the sign-in page cannot be used to bounce people elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("ui.plan.index")


@blueprint.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """Show the sign-in form, or sign in with a name and password."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("ui/sign_in.html", next_url=next_url, name="")
    name = request.form.get("name", "").strip()
    if not _password_matches(name, request.form.get("password", "")):
        error = "That name and password do not match."
        return render_template("ui/sign_in.html", next_url=next_url, name=name, error=error), 401
    session.clear()  # a fresh session (and CSRF token) on sign-in prevents session fixation
    session[USER_KEY] = _users().user(name).name
    csrf_token()
    flash(f"Signed in as {session[USER_KEY]}.", "success")
    return redirect(next_url, 303)


@blueprint.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    """Sign out and forget the session."""
    session.clear()
    flash("Signed out.", "success")
    return redirect(url_for("ui.session_auth.sign_in"), 303)


def _password_matches(name: str, password: str) -> bool:
    """Checks the password; an unknown name costs the same hashing time, so it is not revealed."""
    try:
        stored = _users().user(name).password_hash if name else None
    except UserNotFound:
        stored = None
    if stored is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, stored)


def _users() -> Leanplan:
    app: Leanplan = current_app.extensions["leanplan"]
    return app


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
