"""What every module of the JSON API shares: its blueprint class and the access checks.

The plan routes (web.api), calendar links (web.calendar_links) and feeds (web.feeds) each add
routes under /api/v1; with these they parse, document and refuse alike.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar
from uuid import UUID

from flask import current_app, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import PreconditionFailed

from domain.application import Leanplan
from domain.plan import Plan, Role
from web.auth import current_user

F = TypeVar("F", bound=Callable[..., Any])

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "the plan's ETag; the write is refused with 412 if the plan has changed since",
    "schema": {"type": "string"},
}


class _JsonParser(FlaskParser):
    """webargs' parser, but JSON nested too deep for Python is malformed (400), not a crash."""

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            abort(400, messages={"json": ["The JSON body is nested too deeply."]})


class ApiBlueprint(Blueprint):
    """A blueprint of the JSON API."""

    ARGUMENTS_PARSER = _JsonParser()

    def documents(self, *codes: int) -> Callable[[F], F]:
        """Document the error answers a view can give (401 for every one: all need a token)."""

        def decorate(view: F) -> F:
            for code in (401, *codes):
                view = self.alt_response(code, response=HTTPStatus(code).name)(view)
            return view

        return decorate

    def writes(self, view: F) -> F:
        """Document what every write to a plan shares: the optional If-Match and its refusals."""
        return self.documents(403, 404, 409, 412)(self.doc(parameters=[IF_MATCH])(view))


def current_leanplan() -> Leanplan:
    """The application the app was built around (web.create_app)."""
    leanplan: Leanplan = current_app.extensions["leanplan"]
    return leanplan


def readable_plan(plan_id: UUID) -> Plan:
    """The plan, if the caller is a member; else PlanNotFound, as if it did not exist."""
    return current_leanplan().authorize(plan_id, current_user(), Role.VIEWER)


def writable_plan(plan_id: UUID, needed: Role = Role.EDITOR) -> Plan:
    """The plan, if the caller's role allows the change and If-Match (when sent) is its version.

    The version is checked before the command runs, not in the same transaction: a write landing
    in between on another aggregate of the plan goes unnoticed, one on the same aggregate is still
    refused as a concurrent change (409).
    """
    plan = current_leanplan().authorize(plan_id, current_user(), needed)
    expected = request.if_match
    if expected:
        version = current_leanplan().plan(plan_id).version
        if not expected.contains(str(version)):
            raise PreconditionFailed(f"the plan is at version {version}; reload it and try again")
    return plan
