"""Bearer-token authentication for the JSON API: each request names its user, its events' actor.

The API reads no cookies, so a browser session can never act through it and it needs no CSRF
defence; the pages sign people in with their own module.
"""

from __future__ import annotations

from flask import current_app, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from adapters.credentials import verify_token
from domain.application import Leanplan

REALM = "leanplan"


def authenticate() -> None:
    """Admit the request only with a valid `Authorization: Bearer <token>`; remember its user."""
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        raise _unauthorized("send the header Authorization: Bearer <token>", error=None)
    leanplan: Leanplan = current_app.extensions["leanplan"]
    user = verify_token(leanplan, credentials.token)
    if user is None:
        raise _unauthorized("the token is not valid", error="invalid_token")
    g.api_user = user.name


def current_user() -> str:
    """The authenticated user's name, as `authenticate` found it."""
    name: str = g.api_user
    return name


def _unauthorized(message: str, error: str | None) -> Unauthorized:
    parameters: dict[str, str | None] = {"realm": REALM}
    if error:
        parameters["error"] = error
    return Unauthorized(message, www_authenticate=WWWAuthenticate("bearer", parameters))
