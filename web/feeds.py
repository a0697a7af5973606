"""Calendar feeds over HTTP: the public `/feeds/<token>.ics` and the API that manages feeds.

A feed URL is its own credential, so it is treated like a password: the token appears in one
API answer only, never in logs (access logs are masked here; our own lines name the feed id),
and an unknown, malformed or revoked token all get the same bare 404. The body is rendered from
the plan's events alone, so an unchanged plan gives the same bytes, the same strong ETag, and a
304 to a client that sends it back.

Settings (app config, else environment): LEANPLAN_BASE_URL (links in feeds and the feed URLs;
default http://127.0.0.1:8000, where `leanplan serve` listens), LEANPLAN_FEED_REFRESH_SECONDS
(REFRESH-INTERVAL and Cache-Control, default 3600), LEANPLAN_FEED_GRACE_DAYS (how long cancelled
milestones stay, default 30).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, TypeVar
from uuid import UUID

from flask import Blueprint, Flask, Response, current_app, request, url_for
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser, abort
from werkzeug.exceptions import PreconditionFailed

from adapters.feeds import FetchLog, create_feed, fetch_log_for, find_feed
from adapters.ical import FeedFilter, FeedFormat, FeedRenderer, FeedSettings
from domain.application import Leanplan
from domain.plan import Feed, Role
from domain.values import Kind
from web.api import IF_MATCH
from web.auth import authenticate, current_user
from web.schemas import Text

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_FEED_PATH = re.compile(r"/feeds/[^/\s\"?]+\.ics")
_MASKED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Feeds:
    """What the feed views share; the UI finds it in `app.extensions["leanplan_feeds"]`."""

    renderer: FeedRenderer
    fetches: FetchLog
    etags: dict[tuple[UUID, FeedFormat], tuple[bytes, str]] = field(default_factory=dict)

    def url(self, token: str) -> str:
        return self.renderer.settings.base_url + url_for("feeds.feed", token=token)

    def etag(self, key: tuple[UUID, FeedFormat], body: bytes) -> str:
        """A strong ETag: the body's SHA-256, hashed again only when the renderer made new bytes."""
        kept = self.etags.get(key)
        if kept is not None and kept[0] is body:
            return kept[1]
        tag = hashlib.sha256(body).hexdigest()[:32]
        self.etags[key] = (body, tag)
        return tag


def init_app(app: Flask) -> None:
    """Serve feeds and their API; call after web.api.init_app, whose OpenAPI document gets them."""
    settings = FeedSettings(
        _setting(app, "LEANPLAN_BASE_URL", DEFAULT_BASE_URL),
        refresh_interval=timedelta(
            seconds=int(_setting(app, "LEANPLAN_FEED_REFRESH_SECONDS", 3600))
        ),
        cancelled_grace=timedelta(days=int(_setting(app, "LEANPLAN_FEED_GRACE_DAYS", 30))),
    )
    app.extensions["leanplan_feeds"] = Feeds(
        FeedRenderer(settings), fetch_log_for(app.extensions["leanplan"])
    )
    app.register_blueprint(page)
    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(api)
    for logger in (app.logger, *map(logging.getLogger, _MASKED_LOGGERS)):
        if not any(isinstance(f, MaskFeedTokens) for f in logger.filters):
            logger.addFilter(MaskFeedTokens())


def _setting(app: Flask, key: str, default: Any) -> Any:
    """The app's config, else the environment, else the default (a 0 from either counts)."""
    for value in (app.config.get(key), os.environ.get(key)):
        if value not in (None, ""):
            return value
    return default


class MaskFeedTokens(logging.Filter):
    """Access and error logs print request paths, and a feed's path is its secret: mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/feeds/" in message:
            record.msg, record.args = _FEED_PATH.sub("/feeds/<token>.ics", message), None
        return True


def _leanplan() -> Leanplan:
    leanplan: Leanplan = current_app.extensions["leanplan"]
    return leanplan


def _feeds() -> Feeds:
    feeds: Feeds = current_app.extensions["leanplan_feeds"]
    return feeds


# The feed itself.

page = Blueprint("feeds", __name__)


@page.get("/feeds/<token>.ics")
def feed(token: str) -> Response:
    """Serve the feed the token opens (HEAD too); conditional requests may get 304."""
    found = find_feed(_leanplan(), token)
    if found is None:
        return Response("Not Found\n", 404, {"Cache-Control": "no-store"}, mimetype="text/plain")
    plan, subscription = found
    try:
        flavour = FeedFormat(request.args.get("format", FeedFormat.EVENT.value))
    except ValueError:
        return Response("format is event or todo\n", 400, mimetype="text/plain")
    feeds, now = _feeds(), datetime.now(UTC)
    view = _leanplan().plan(plan.id)
    body = feeds.renderer.render(view, now=now, feed_filter=_filter(subscription), format=flavour)
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.set_etag(feeds.etag((subscription.id, flavour), body))
    response.last_modified = feeds.renderer.last_modified(view, now=now)
    response.cache_control.private = True  # the URL is a secret: no shared cache keeps it
    response.cache_control.max_age = int(feeds.renderer.settings.refresh_interval.total_seconds())
    response.headers["Content-Disposition"] = 'inline; filename="plan.ics"'
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response = response.make_conditional(request)
    feeds.fetches.record(subscription.id, now, request.user_agent.string, response.status_code)
    log.info("feed %s of plan %s: %s", subscription.id, plan.id, response.status_code)
    return response


def _filter(subscription: Feed) -> FeedFilter:
    kinds = None if subscription.kinds is None else frozenset(subscription.kinds)
    return FeedFilter(subscription.owner_email, kinds)


# The API.


class _JsonParser(FlaskParser):
    """JSON nested too deeply for Python is malformed (400), not a crash."""

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            abort(400, messages={"json": ["The JSON body is nested too deeply."]})


class _ApiBlueprint(ApiBlueprint):
    ARGUMENTS_PARSER = _JsonParser()


api = _ApiBlueprint(
    "feeds_api", __name__, url_prefix="/api/v1", description="Calendar feeds of a plan"
)
api.before_request(authenticate)


class FeedIn(Schema):
    name = Text(required=True)
    owner_email = Text(
        load_default=None, allow_none=True, metadata={"description": "only this owner's milestones"}
    )
    kinds = fields.List(
        fields.Enum(Kind, by_value=True),
        load_default=None,
        allow_none=True,
        metadata={"description": "only these kinds; the review meeting needs plan_review"},
    )


class _FeedFields(Schema):
    id = fields.UUID()
    name = fields.String()
    owner_email = fields.String(allow_none=True)
    kinds = fields.List(fields.Enum(Kind, by_value=True), allow_none=True)
    created_at = fields.DateTime()


class NewFeedOut(_FeedFields):
    url = fields.String(metadata={"description": "the https link; it contains the token"})
    webcal_url = fields.String(metadata={"description": "the same link for calendar apps"})
    token = fields.String(metadata={"description": "shown only in this answer"})


class FeedOut(_FeedFields):
    created_by = fields.String()
    last_fetched_at = fields.DateTime(allow_none=True)
    fetch_count = fields.Integer()
    last_user_agent = fields.String(allow_none=True)
    last_status = fields.Integer(allow_none=True)


class FeedsOut(Schema):
    feeds = fields.List(fields.Nested(FeedOut))


def _documents(*codes: int) -> Callable[[F], F]:
    """Document the error answers a view can give (401 for every one: all need a token)."""

    def decorate(view: F) -> F:
        for code in (401, *codes):
            view = api.alt_response(code, response=HTTPStatus(code).name)(view)
        return view

    return decorate


def _writable(plan_id: UUID) -> None:
    """An editor may change feeds; an If-Match, when sent, must name the plan's version."""
    _leanplan().authorize(plan_id, current_user(), Role.EDITOR)
    if request.if_match:
        version = _leanplan().plan(plan_id).version
        if not request.if_match.contains(str(version)):
            raise PreconditionFailed(f"the plan is at version {version}; reload it and try again")


@api.route("/plans/<uuid:plan_id>/feeds", methods=["POST"])
@api.arguments(FeedIn)
@api.response(201, NewFeedOut)
@api.doc(parameters=[IF_MATCH])
@_documents(403, 404, 412)
def create(body: dict[str, Any], plan_id: UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a calendar feed of the plan; its token is in this answer and nowhere else."""
    _writable(plan_id)
    kinds = None if body["kinds"] is None else tuple(kind.value for kind in body["kinds"])
    created = create_feed(
        _leanplan(), plan_id, body["name"], actor=current_user(), owner_email=body["owner_email"],
        kinds=kinds,
    )  # fmt: skip
    url = _feeds().url(created.token)
    answer = vars(created.feed) | {
        "url": url,
        "webcal_url": "webcal" + url[url.index(":") :],
        "token": created.token,
    }
    log.info("feed %s created on plan %s", created.feed.id, plan_id)
    return answer, 201, {"Cache-Control": "no-store"}


@api.route("/plans/<uuid:plan_id>/feeds", methods=["GET"])
@api.response(200, FeedsOut)
@_documents(404)
def list_feeds(plan_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """List the plan's live feeds and how clients have fetched them (no tokens)."""
    plan = _leanplan().authorize(plan_id, current_user(), Role.VIEWER)
    fetches = _feeds().fetches.get([subscription.id for subscription in plan.feeds])
    listed = []
    for subscription in sorted(plan.feeds, key=lambda f: f.created_at):
        seen = fetches.get(subscription.id)
        listed.append(
            vars(subscription)
            | {
                "fetch_count": seen.count if seen else 0,
                "last_fetched_at": seen and seen.last_fetched_at,
                "last_user_agent": seen and seen.last_user_agent,
                "last_status": seen and seen.last_status,
            }
        )
    return {"feeds": listed}


@api.route("/plans/<uuid:plan_id>/feeds/<uuid:feed_id>", methods=["DELETE"])
@api.response(204)
@api.doc(parameters=[IF_MATCH])
@_documents(403, 404, 412)
def revoke(plan_id: UUID, feed_id: UUID) -> None:
    """Revoke a feed: its URL stops working at once."""
    _writable(plan_id)
    _leanplan().revoke_feed(plan_id, feed_id, actor=current_user())
    log.info("feed %s revoked on plan %s", feed_id, plan_id)
