"""Calendar feeds over HTTP: the public `/feeds/<token>.ics` and the API that manages feeds.

A feed URL is its own credential, so it is treated like a password: the token appears in one
API answer only, never in logs (access logs are masked here; our own lines name the feed id),
and an unknown, malformed or revoked token all get the same bare 404. The body is rendered from
the plan's events alone, so an unchanged plan gives the same bytes, the same strong ETag, and a
304 to a client that sends it back. Those answers are kept between polls (adapters.feed_cache),
and served gzipped to the clients that ask, as calendar clients do: a large plan's feed shrinks
more than tenfold.

Settings (app config, else environment): LEANPLAN_BASE_URL (links in feeds and the feed URLs;
default http://127.0.0.1:8000, where `leanplan serve` listens), LEANPLAN_FEED_REFRESH_SECONDS
(REFRESH-INTERVAL and Cache-Control, default 3600), LEANPLAN_FEED_GRACE_DAYS (how long cancelled
milestones stay, default 30).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any
from uuid import UUID

from flask import Blueprint, Flask, Response, current_app, request, url_for
from marshmallow import Schema, fields
from werkzeug.http import is_resource_modified, parse_accept_header

from adapters.feed_cache import FeedAnswer, FeedAnswers
from adapters.feeds import FetchLog, create_feed, fetch_log_for
from adapters.ical import FeedFormat, FeedRenderer, FeedSettings
from domain.values import Kind
from web.api_support import ApiBlueprint, current_leanplan, readable_plan, writable_plan
from web.auth import authenticate, current_user
from web.schemas import Text

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_FEED_PATH = re.compile(r"/feeds/[^/\s\"?]+\.ics")
_MASKED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


@dataclass(frozen=True)
class Feeds:
    """What the feed views share; the UI finds it in `app.extensions["leanplan_feeds"]`."""

    renderer: FeedRenderer
    fetches: FetchLog
    answers: FeedAnswers

    def url(self, token: str) -> str:
        return self.renderer.settings.base_url + url_for("feeds.feed", token=token)

    @cached_property
    def cache_control(self) -> str:
        """In line with REFRESH-INTERVAL; private, because the URL is a secret."""
        return f"private, max-age={int(self.renderer.settings.refresh_interval.total_seconds())}"


def init_app(app: Flask) -> None:
    """Serve feeds and their API; call after web.api.init_app, whose OpenAPI document gets them."""
    settings = FeedSettings(
        _setting(app, "LEANPLAN_BASE_URL", DEFAULT_BASE_URL),
        refresh_interval=timedelta(
            seconds=int(_setting(app, "LEANPLAN_FEED_REFRESH_SECONDS", 3600))
        ),
        cancelled_grace=timedelta(days=int(_setting(app, "LEANPLAN_FEED_GRACE_DAYS", 30))),
    )
    leanplan, renderer = app.extensions["leanplan"], FeedRenderer(settings)
    app.extensions["leanplan_feeds"] = Feeds(
        renderer, fetch_log_for(leanplan), FeedAnswers(leanplan, renderer)
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


def _feeds() -> Feeds:
    feeds: Feeds = current_app.extensions["leanplan_feeds"]
    return feeds


def _not_found() -> Response:
    """The one answer for unknown, malformed and revoked tokens alike."""
    return Response("Not Found\n", 404, {"Cache-Control": "no-store"}, mimetype="text/plain")


# The feed itself.

page = Blueprint("feeds", __name__)


@page.get("/feeds/<token>.ics")
def feed(token: str) -> Response:
    """Serve the feed the token opens (HEAD too); conditional requests may get 304."""
    feeds, now = _feeds(), datetime.now(UTC)
    try:
        flavour = FeedFormat(request.args.get("format", FeedFormat.EVENT.value))
    except ValueError:
        if feeds.answers.answer(token, FeedFormat.EVENT, now) is None:
            return _not_found()
        return Response("format is event or todo\n", 400, mimetype="text/plain")
    answer = feeds.answers.answer(token, flavour, now)
    if answer is None:
        return _not_found()
    response = _response(answer)
    client = request.headers.get("User-Agent", "")
    feeds.fetches.record(answer.feed_id, now, client, response.status_code)
    log.info("feed %s of plan %s: %s", answer.feed_id, answer.plan_id, response.status_code)
    return response


def _response(answer: FeedAnswer) -> Response:
    """The kept answer as this request wants it: gzipped or not, whole or 304.

    Each encoding is its own representation with its own strong ETag (RFC 9110 8.8.3), so a
    cache never takes one for the other. A client that sends back exactly the ETag it got —
    nearly every poll — is answered without parsing its validators.
    """
    gzipped = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
    etag = f'"{answer.etag}-gzip"' if gzipped else f'"{answer.etag}"'
    headers = [
        ("ETag", etag),
        ("Cache-Control", _feeds().cache_control),
        ("Vary", "Accept-Encoding"),
    ]
    environ = request.environ
    if environ.get("HTTP_IF_NONE_MATCH") == etag or (
        ("HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ)
        and not is_resource_modified(environ, etag, last_modified=answer.last_modified)
    ):
        return Response(status=304, headers=headers)
    headers += [
        ("Content-Type", "text/calendar; charset=utf-8"),
        ("Last-Modified", answer.last_modified_http),
        ("Content-Disposition", 'inline; filename="plan.ics"'),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return Response(answer.gzipped if gzipped else answer.body, headers=headers)


@lru_cache(maxsize=256)
def _accepts_gzip(accept_encoding: str) -> bool:
    """Clients send few distinct Accept-Encoding values, so each is parsed once."""
    return parse_accept_header(accept_encoding)["gzip"] > 0


# The API.


api = ApiBlueprint(
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


@api.route("/plans/<uuid:plan_id>/feeds", methods=["POST"])
@api.arguments(FeedIn)
@api.response(201, NewFeedOut)
@api.writes
def create(body: dict[str, Any], plan_id: UUID) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a calendar feed of the plan; its token is in this answer and nowhere else."""
    writable_plan(plan_id)
    kinds = None if body["kinds"] is None else tuple(kind.value for kind in body["kinds"])
    created = create_feed(
        current_leanplan(), plan_id, body["name"], actor=current_user(),
        owner_email=body["owner_email"], kinds=kinds,
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
@api.documents(404)
def list_feeds(plan_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """List the plan's live feeds and how clients have fetched them (no tokens)."""
    plan = readable_plan(plan_id)
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
@api.writes
def revoke(plan_id: UUID, feed_id: UUID) -> None:
    """Revoke a feed: its URL stops working at once."""
    writable_plan(plan_id)
    current_leanplan().revoke_feed(plan_id, feed_id, actor=current_user())
    log.info("feed %s revoked on plan %s", feed_id, plan_id)
