"""Calendar links over the API: `/api/v1/plans/{plan_id}/calendar-links`.

The web process only records links and their passwords; the sync worker (`leanplan sync`) does
all talking to calendar servers, so a slow or hostile server never holds up a request. The
password goes into adapters.secrets encrypted before the link is recorded (so the worker never
sees a link without one), and it is in no answer, event or log line. GET shows what the worker
last reported: state, last sync, last error, items in sync; a link the worker has not reached
yet is `pending`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

from flask import Flask, current_app
from marshmallow import Schema, fields, validate

from adapters.caldav_state import LinkState, SideDatabase, Status, SyncState, UnsupportedStore
from adapters.secrets import SECRET_KEY_ENV, LinkSecrets, SecretKeyMissing, cipher
from domain.application import Leanplan
from domain.calendar_links import CalendarLink, ConflictPolicy, Direction
from domain.errors import DomainError, InvalidInput
from domain.plan import Plan
from domain.values import Kind
from web.api_support import ApiBlueprint, current_leanplan, readable_plan, writable_plan
from web.auth import authenticate, current_user
from web.schemas import Text

log = logging.getLogger(__name__)

MAX_PASSWORD = 1_024

blp = ApiBlueprint(
    "calendar_links", __name__, url_prefix="/api/v1",
    description="Two-way CalDAV sync of a plan into calendars",
)  # fmt: skip
blp.before_request(authenticate)


class CalendarLinkIn(Schema):
    name = Text(required=True)
    url = Text(required=True, metadata={"description": "the calendar collection's URL"})
    username = Text(load_default="")
    password = Text(
        required=True,
        load_only=True,
        validate=validate.Length(max=MAX_PASSWORD),
        metadata={"description": "stored encrypted; never shown"},
    )
    direction = fields.Enum(Direction, by_value=True, load_default=Direction.TWO_WAY)
    owner_email = Text(
        load_default=None, allow_none=True, metadata={"description": "only this owner's milestones"}
    )
    kinds = fields.List(fields.Enum(Kind, by_value=True), load_default=None, allow_none=True)
    conflict_policy = fields.Enum(
        ConflictPolicy, by_value=True, load_default=ConflictPolicy.PLAN_WINS
    )


class CalendarLinkOut(Schema):
    id = fields.UUID()
    name = fields.String()
    url = fields.String()
    username = fields.String()
    direction = fields.Enum(Direction, by_value=True)
    owner_email = fields.String(allow_none=True)
    kinds = fields.List(fields.Enum(Kind, by_value=True), allow_none=True)
    conflict_policy = fields.Enum(ConflictPolicy, by_value=True)
    created_at = fields.DateTime()
    created_by = fields.String()
    state = fields.String(metadata={"description": "pending, ok, retrying or failing"})
    last_sync_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    items_in_sync = fields.Integer()


class CalendarLinksOut(Schema):
    calendar_links = fields.List(fields.Nested(CalendarLinkOut))


class UnlinkQuery(Schema):
    remove_items = fields.Boolean(
        load_default=False, metadata={"description": "also delete what was pushed (by the worker)"}
    )


def init_app(app: Flask) -> None:
    """Serve the routes; call after web.api.init_app, whose OpenAPI document gets them."""
    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)


class _Side:
    """The worker's state and the password store, opened on first use: a store they cannot
    live in (in memory) still serves everything else."""

    def __init__(self, app: Leanplan, secret_key: str) -> None:
        try:
            database = SideDatabase(app)
        except UnsupportedStore:
            self.state: SyncState | None = None
            self.secrets: LinkSecrets | None = None
            return
        self.state = SyncState(database)
        try:
            self.secrets = LinkSecrets(database, cipher(secret_key))
        except SecretKeyMissing:
            self.secrets = None


def _side() -> _Side:
    side: _Side | None = current_app.extensions.get("leanplan_calendar_links")
    if side is None:
        key = current_app.config.get(SECRET_KEY_ENV) or os.environ.get(SECRET_KEY_ENV, "")
        side = current_app.extensions["leanplan_calendar_links"] = _Side(current_leanplan(), key)
    return side


def _answer(link: CalendarLink, state: LinkState | None) -> dict[str, Any]:
    return vars(link) | {
        "state": state.status if state else Status.PENDING,
        "last_sync_at": state and state.last_sync_at,
        "last_error": state and state.last_error,
        "items_in_sync": state.items_in_sync if state else 0,
    }


@blp.route("/plans/<uuid:plan_id>/calendar-links", methods=["POST"])
@blp.arguments(CalendarLinkIn)
@blp.response(201, CalendarLinkOut)
@blp.writes
@blp.documents(422)
def create(body: dict[str, Any], plan_id: UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Link a calendar collection; `leanplan sync` then writes the plan into it (and, for
    two_way, reads moves back). The password is stored encrypted and never shown again.

    The plan stays the source of truth: an event deleted in the calendar never cancels its
    milestone — the history notes the deletion and the next push puts the event back — and
    edits other than a move are noted and overwritten."""
    writable_plan(plan_id)
    link = link_calendar(plan_id, body, current_user())
    return _answer(link, None), 201, {"Cache-Control": "no-store"}


@blp.route("/plans/<uuid:plan_id>/calendar-links", methods=["GET"])
@blp.response(200, CalendarLinksOut)
@blp.documents(404)
def list_links(plan_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """The plan's calendar links and how their sync is doing."""
    return {"calendar_links": links_with_state(readable_plan(plan_id))}


@blp.route("/plans/<uuid:plan_id>/calendar-links/<uuid:link_id>", methods=["DELETE"])
@blp.arguments(UnlinkQuery, location="query")
@blp.response(204)
@blp.writes
def delete(query: dict[str, bool], plan_id: UUID, link_id: UUID) -> None:
    """Stop syncing; with `remove_items=true` the worker also deletes what it pushed there."""
    writable_plan(plan_id)
    unlink_calendar(plan_id, link_id, remove_items=query["remove_items"], actor=current_user())


# What the API and the pages (web.ui_calendar_links) both do, so they record the same events
# under the same rules.


def ensure_linkable() -> LinkSecrets:
    """Where new links' passwords go; InvalidInput saying why when this server cannot keep them."""
    side = _side()
    if side.state is None:
        raise InvalidInput("calendar links need a SQLite or PostgreSQL store", field="url")
    if side.secrets is None:
        raise InvalidInput(
            f"this server cannot keep calendar passwords: {SECRET_KEY_ENV} is not set",
            field="password",
        )
    return side.secrets


def link_calendar(plan_id: UUID, body: Mapping[str, Any], actor: str) -> CalendarLink:
    """Records a link from a loaded `CalendarLinkIn`, its password stored first (encrypted) so
    the worker never meets a link without one, and forgotten again when the plan refuses it."""
    secrets = ensure_linkable()
    link_id = uuid4()
    secrets.put(link_id, body["password"])
    kinds = None if body["kinds"] is None else tuple(kind.value for kind in body["kinds"])
    try:
        current_leanplan().link_calendar(
            plan_id, body["name"], url=body["url"], user=body["username"], actor=actor,
            direction=body["direction"].value, conflict_policy=body["conflict_policy"].value,
            owner_email=body["owner_email"], kinds=kinds, link_id=link_id,
        )  # fmt: skip
    except DomainError:
        secrets.delete(link_id)
        raise
    log.info("calendar link %s created on plan %s", link_id, plan_id)
    return current_leanplan().plan(plan_id).plan.calendar_link(link_id)


def unlink_calendar(plan_id: UUID, link_id: UUID, *, remove_items: bool, actor: str) -> None:
    """Stops syncing; the password is kept only while the worker still needs it to remove items."""
    current_leanplan().unlink_calendar(plan_id, link_id, remove_items=remove_items, actor=actor)
    secrets = _side().secrets
    if not remove_items and secrets is not None:
        secrets.delete(link_id)
    log.info(
        "calendar link %s removed from plan %s (remove_items=%s)", link_id, plan_id, remove_items
    )


def links_with_state(plan: Plan) -> list[dict[str, Any]]:
    """The plan's links, oldest first, each with what the worker last reported about it."""
    state = _side().state
    states = {s.link_id: s for s in state.links(plan.id)} if state else {}
    links = sorted(plan.calendar_links, key=lambda link: link.created_at)
    return [_answer(link, states.get(link.id)) for link in links]
