"""The feed pages: a plan's calendar feeds, the links of a new one, and a debug page per feed.

Creating and revoking go through the functions the API uses (adapters.feeds.create_feed,
Leanplan.revoke_feed), so the history records the same events, with the signed-in user as actor.
A new feed's token exists only in the answer to the form that created it: that page answers the
POST itself instead of redirecting, since carrying the token over to a GET would put it into the
session cookie or a URL, and it is sent with Cache-Control: no-store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from adapters.feed_preview import DatedEvent, preview
from adapters.feeds import create_feed, filter_of
from domain.errors import DomainError, FeedNotFound, InvalidInput, NotFound
from domain.plan import Feed, Role
from web.errors import status_for
from web.feeds import Feeds
from web.session_auth import actor, login_required
from web.ui_plans import KINDS
from web.ui_support import FormError, attempt, leanplan, load_plan, plan_today

log = logging.getLogger(__name__)

blueprint = Blueprint("feeds", __name__, url_prefix="/plans/<uuid:plan_id>/feeds")

NEW_FEED_FORM = "new-feed"
MAX_PREVIEW_EVENTS = 100
"""A preview of a large plan lists the events due nearest today, like the plan page's chart."""
CLIENTS = (
    ("google-calendar-importer", "Google Calendar"),
    ("microsoft", "Microsoft Outlook"),
    ("outlook", "Microsoft Outlook"),
    ("dataaccessd", "Apple Calendar on iPhone or iPad"),
    ("calendaragent", "Apple Calendar on a Mac"),
    ("thunderbird", "Thunderbird"),
    ("davx5", "DAVx⁵"),
)
"""User-Agent fragments of the common subscribers, so the debug page can name the app."""


@dataclass(frozen=True)
class NewFeed:
    """A feed just created, with the links that hold its token: shown once, kept nowhere."""

    feed: Feed
    url: str
    webcal_url: str


@blueprint.get("")
@login_required
def index(plan_id: UUID) -> ResponseReturnValue:
    """List the plan's feeds and how calendar apps fetch them, with a form to create one."""
    return render_feeds(plan_id)


@blueprint.post("")
@login_required
def create(plan_id: UUID) -> ResponseReturnValue:
    """Create a feed and show its links, this one time."""
    load_plan(plan_id, Role.EDITOR)
    kinds = tuple(request.form.getlist("kinds")) or None
    try:
        created = create_feed(
            leanplan(), plan_id, request.form.get("name", ""), actor=actor(),
            owner_email=request.form.get("owner_email", "").strip() or None, kinds=kinds,
        )  # fmt: skip
    except NotFound:
        abort(404)
    except DomainError as error:
        field = error.field if isinstance(error, InvalidInput) else None
        g.form_error = FormError(NEW_FEED_FORM, str(error), field)
        return render_feeds(plan_id), status_for(error)
    log.info("feed %s created on plan %s", created.feed.id, plan_id)
    url = _feeds().url(created.token)
    shown = NewFeed(created.feed, url, "webcal" + url[url.index(":") :])
    return render_feeds(plan_id, created=shown), 201, {"Cache-Control": "no-store"}


@blueprint.get("/<uuid:feed_id>")
@login_required
def show(plan_id: UUID, feed_id: UUID) -> ResponseReturnValue:
    """Show when and by which app the feed was last fetched, and what it contains now."""
    return render_feed(plan_id, feed_id)


@blueprint.post("/<uuid:feed_id>/revoke")
@login_required
def revoke(plan_id: UUID, feed_id: UUID) -> ResponseReturnValue:
    """Revoke a feed once the person confirmed it: its URL stops working at once."""
    load_plan(plan_id, Role.EDITOR)

    def revoke_confirmed() -> None:
        if request.form.get("confirm") != "yes":
            raise InvalidInput("tick the box to confirm that the link should stop working", field="confirm")
        leanplan().revoke_feed(plan_id, feed_id, actor=actor())
        log.info("feed %s revoked on plan %s", feed_id, plan_id)

    on_feed_page = request.form.get("back") == "feed"
    return attempt(
        revoke_confirmed,
        success="Feed revoked: its link no longer works.",
        redirect_to=url_for("ui.feeds.index", plan_id=plan_id),
        rerender=lambda: render_feed(plan_id, feed_id) if on_feed_page else render_feeds(plan_id),
    )


def render_feeds(plan_id: UUID, *, created: NewFeed | None = None) -> str:
    view = load_plan(plan_id)
    subscriptions = sorted(view.plan.feeds, key=lambda feed: feed.created_at)
    fetches = _feeds().fetches.get([feed.id for feed in subscriptions])
    rejected = g.get("form_error") is not None and g.form_error.form_id == NEW_FEED_FORM
    return render_template(
        "ui/feeds.html",
        plan=view.plan,
        rows=[(feed, fetches.get(feed.id)) for feed in subscriptions],
        created=created,
        kinds=KINDS,
        chosen_kinds=request.form.getlist("kinds") if rejected else [],
    )


def render_feed(plan_id: UUID, feed_id: UUID) -> str:
    view = load_plan(plan_id)
    try:
        subscription = view.plan.feed(feed_id)
    except FeedNotFound:
        abort(404)
    feeds, now = _feeds(), datetime.now(UTC)
    contents = preview(feeds.renderer.render(view, now=now, feed_filter=filter_of(subscription)), now=now)
    fetched = feeds.fetches.get([feed_id]).get(feed_id)
    changed = feeds.renderer.last_modified(view, now=now)
    last_fetch = fetched.last_fetched_at if fetched else None
    return render_template(
        "ui/feed.html",
        plan=view.plan,
        feed=subscription,
        fetched=fetched,
        fetched_ago=_span(now - last_fetch) if last_fetch else "",
        client=_client(fetched.last_user_agent or "") if fetched else None,
        changed=changed,
        up_to_date=last_fetch is not None and last_fetch >= changed,
        refresh=_span(feeds.renderer.settings.refresh_interval),
        contents=contents,
        events=_nearest(contents.events, plan_today(view)),
        span=_span,
    )


def _feeds() -> Feeds:
    feeds: Feeds = current_app.extensions["leanplan_feeds"]
    return feeds


def _client(user_agent: str) -> str | None:
    """The app a User-Agent names, if it is one of the common ones."""
    lowered = user_agent.casefold()
    return next((name for fragment, name in CLIENTS if fragment in lowered), None)


def _nearest(events: tuple[DatedEvent, ...], today: date) -> list[DatedEvent]:
    if len(events) <= MAX_PREVIEW_EVENTS:
        return list(events)
    nearest = sorted(events, key=lambda event: abs((event.day - today).days))[:MAX_PREVIEW_EVENTS]
    return sorted(nearest, key=lambda event: (event.day, event.summary))


def _span(length: timedelta | None) -> str:
    """`timedelta(hours=26)` → `1 day 2 hours`; under a minute is `less than a minute`."""
    if length is None:
        return "no set length"
    minutes = int(length.total_seconds()) // 60
    parts = []
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts[:2]) or "less than a minute"
