"""Kept feed answers: a poll of an unchanged plan reads no plan, and nothing kept outlives the
truth — not a revocation or an edit by another process, not the end of a grace period."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import icalendar
import pytest
from flask.testing import FlaskClient

import adapters.feed_cache
from adapters.bootstrap import open_leanplan
from adapters.feed_cache import FeedAnswers
from adapters.feeds import create_feed
from adapters.ical import FeedFormat, FeedRenderer
from domain.application import Leanplan
from domain.values import Person
from web import create_app

Parse = Callable[[bytes], icalendar.Calendar]
ANN = Person("Ann", "ann@example.org")
GZIP = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Server:
    """One server process: its own application on the shared store, and the web app around it."""

    leanplan: Leanplan
    client: FlaskClient


@pytest.fixture
def servers(database_url: str) -> Iterator[tuple[Server, Server]]:
    """Two processes on one database, as gunicorn's workers are."""
    opened = [open_leanplan(database_url, environ={}) for _ in range(2)]
    config = {"TESTING": True, "LEANPLAN_BASE_URL": "https://lp.example"}
    apps = [create_app(config | {"LEANPLAN_APP": leanplan}) for leanplan in opened]
    yield Server(opened[0], apps[0].test_client()), Server(opened[1], apps[1].test_client())
    for leanplan in opened:
        leanplan.close()


@pytest.fixture
def slow_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The token hashes looked up in the store, in order: each a poll not answered from memory."""
    looked_up: list[str] = []
    find = adapters.feed_cache.find_feed_by_digest

    def counting(app: Leanplan, digest: str) -> Any:
        looked_up.append(digest)
        return find(app, digest)

    monkeypatch.setattr(adapters.feed_cache, "find_feed_by_digest", counting)
    return looked_up


def _plan(leanplan: Leanplan) -> tuple[UUID, UUID, str, str]:
    """A plan with one milestone and a feed: (plan id, milestone id, feed id, feed path)."""
    plan_id = leanplan.start_plan("Launch", actor="ann", timezone="Europe/Berlin")
    milestone_id = leanplan.add_milestone(
        plan_id, title="Pilot", kind="implementation", due=date(2031, 3, 14), budget="10",
        owner=ANN, actor="ann",
    )  # fmt: skip
    created = create_feed(leanplan, plan_id, "Team", actor="ann")
    return plan_id, milestone_id, str(created.feed.id), f"/feeds/{created.token}.ics"


def test_a_poll_of_an_unchanged_plan_reads_no_plan(
    servers: tuple[Server, Server], slow_paths: list[str], monkeypatch: pytest.MonkeyPatch,
    parse: Parse,
) -> None:  # fmt: skip
    here, _ = servers
    *_, path = _plan(here.leanplan)
    first = here.client.get(path)
    assert first.status_code == 200 and len(slow_paths) == 1
    parse(first.data)
    reads: list[UUID] = []
    monkeypatch.setattr(Leanplan, "plan", lambda self, plan_id: reads.append(plan_id))
    again = here.client.get(path)
    not_modified = here.client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    head = here.client.head(path)
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert not_modified.status_code == 304 and head.status_code == 200
    assert reads == [] and len(slow_paths) == 1


def test_a_revocation_by_another_process_closes_the_feed_at_once(
    servers: tuple[Server, Server],
) -> None:
    here, there = servers
    plan_id, _, feed_id, path = _plan(there.leanplan)
    etag = here.client.get(path).headers["ETag"]
    assert here.client.get(path, headers={"If-None-Match": etag}).status_code == 304
    there.leanplan.revoke_feed(plan_id, UUID(feed_id), actor="ann")
    assert here.client.get(path, headers={"If-None-Match": etag}).status_code == 404
    assert here.client.get(path).status_code == 404
    assert here.client.get(path + "?format=todo").status_code == 404


def test_an_edit_by_another_process_shows_on_the_next_poll(
    servers: tuple[Server, Server], parse: Parse
) -> None:
    here, there = servers
    _, milestone_id, _, path = _plan(there.leanplan)
    before = here.client.get(path)
    there.leanplan.reschedule(milestone_id, date(2031, 4, 1), reason="late", actor="ann")
    after = here.client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    (event,) = [e for e in parse(after.data).walk("VEVENT") if e["UID"] == str(milestone_id)]
    assert event.decoded("DTSTART") == date(2031, 4, 1)


def test_a_write_to_another_plan_keeps_the_etag(
    servers: tuple[Server, Server], slow_paths: list[str]
) -> None:
    here, there = servers
    *_, path = _plan(there.leanplan)
    first = here.client.get(path)
    there.leanplan.start_plan("Another plan", actor="bob")
    again = here.client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]
    assert len(slow_paths) == 2  # the write was noticed, and the plan found unchanged


def test_gzip_is_the_same_feed_under_an_etag_of_its_own(servers: tuple[Server, Server]) -> None:
    here, _ = servers
    *_, path = _plan(here.leanplan)
    plain, packed = here.client.get(path), here.client.get(path, headers=GZIP)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert packed.headers["Last-Modified"] == plain.headers["Last-Modified"]
    again = here.client.get(path, headers=GZIP | {"If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == packed.headers["ETag"]
    other = here.client.get(path, headers=GZIP | {"If-None-Match": plain.headers["ETag"]})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"
    refused = here.client.get(path, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert refused.data == plain.data and "Content-Encoding" not in refused.headers


def test_a_cancelled_milestone_leaves_when_its_grace_ends_with_no_write(
    app: Leanplan, renderer: FeedRenderer, parse: Parse
) -> None:
    plan_id, milestone_id, _, path = _plan(app)
    token = path.removeprefix("/feeds/").removesuffix(".ics")
    app.cancel(milestone_id, reason="dropped", actor="ann")
    cancelled_at = app.milestone(milestone_id).cancelled_at
    answers = FeedAnswers(app, renderer)
    grace = renderer.settings.cancelled_grace

    within = answers.answer(token, FeedFormat.EVENT, cancelled_at + grace - timedelta(seconds=1))
    assert within is not None
    (event,) = parse(within.body).walk("VEVENT")[1:]  # after the review series
    assert event["STATUS"] == "CANCELLED"
    after = answers.answer(token, FeedFormat.EVENT, cancelled_at + grace)
    assert after is not None and after.etag != within.etag
    assert str(milestone_id).encode() not in after.body
    assert after.last_modified == cancelled_at + grace
    assert answers.answer(token, FeedFormat.EVENT, datetime.now(UTC) + 2 * grace) is after
    assert app.plan(plan_id).plan.feeds  # nothing was written meanwhile: the clock alone moved


def test_only_so_many_answers_are_kept(
    app: Leanplan, renderer: FeedRenderer, slow_paths: list[str]
) -> None:
    plan_id, *_ = _plan(app)
    tokens = [create_feed(app, plan_id, f"Feed {n}", actor="ann").token for n in range(3)]
    answers, now = FeedAnswers(app, renderer, size=2), datetime.now(UTC)
    for token in tokens + tokens[1:]:
        assert answers.answer(token, FeedFormat.EVENT, now) is not None
    assert len(slow_paths) == 3  # the last two were still kept
    assert answers.answer(tokens[0], FeedFormat.EVENT, now) is not None
    assert len(slow_paths) == 4  # the first had made room
