"""The feed pages: a new feed's links shown once and working, revocation, fetches, preview, access.

Feeds are fetched through the app itself, as a calendar app would fetch them, so the fetch log the
debug page reads is the real one. It gathers fetches in memory and writes them every few seconds,
but reading it writes this process's own first (adapters.feeds.BufferedFetchLog), so a page read
right after a fetch shows it; every test that fetches reads a page afterwards, leaving no fetch
pending for the log's timer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from ical.calendar_stream import IcsCalendarStream
from werkzeug.test import TestResponse

from adapters.feeds import create_feed, hash_token
from domain.application import Leanplan
from domain.values import Person
from tests.ui.support import Browser
from tests.ui.test_accessibility import Outline
from web import create_app

BASE_URL = "https://plans.example.org"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">&amp;'
Guard = Callable[[UUID], AbstractContextManager[None]]


@pytest.fixture
def app(leanplan: Leanplan) -> Flask:
    """The pages' app, with feed links under a public https address."""
    return create_app(
        {"LEANPLAN_APP": leanplan, "TESTING": True, "SECRET_KEY": "test-secret", "LEANPLAN_BASE_URL": BASE_URL}
    )


class Inputs(HTMLParser):
    """The values of a page's inputs by id, unescaped as a browser reads them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("id"):
            self.values[attributes["id"] or ""] = attributes.get("value") or ""


def parse(body: bytes) -> icalendar.Calendar:
    """Both parsers must accept the feed; icalendar's tree is what the tests then read."""
    IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    calendar = icalendar.Calendar.from_ical(body)
    assert isinstance(calendar, icalendar.Calendar)
    return calendar


def text_of(html: str) -> str:
    """A page's text as read aloud: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def last_entry(leanplan: Leanplan, plan_id: UUID) -> tuple[str, str]:
    entry = list(leanplan.history(plan_id))[-1]
    return entry.type, entry.actor


def new_feed(browser: Browser, plan_id: UUID, **form: object) -> TestResponse:
    return browser.post(f"/plans/{plan_id}/feeds", {"form_id": "new-feed", "name": "Team"} | form)


def path_of(url: str) -> str:
    return url.removeprefix(BASE_URL)


def test_a_new_feed_shows_both_links_once_and_its_link_serves_the_plan(
    bob: Browser, client: FlaskClient, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID
) -> None:
    created = new_feed(bob, plan_id)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    links = Inputs(created.text).values
    url, webcal = links["feed-url"], links["feed-webcal-url"]
    token = re.fullmatch(rf"{re.escape(BASE_URL)}/feeds/([A-Za-z0-9_-]{{43}})\.ics", url)
    assert token is not None, url
    assert webcal == "webcal://plans.example.org" + path_of(url)
    assert 'data-copy="feed-url"' in created.text and 'data-copy="feed-webcal-url"' in created.text

    (feed,) = leanplan.plan(plan_id).plan.feeds
    assert (feed.name, feed.created_by, feed.token_hash) == ("Team", "bob", hash_token(token[1]))
    assert last_entry(leanplan, plan_id) == ("FeedCreated", "bob")

    served = client.get(path_of(url))  # no session, no other credential: the link is enough
    assert served.status_code == 200 and served.mimetype == "text/calendar"
    calendar = parse(served.data)
    summaries = [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]
    assert "Pilot customer signed (implementation, planned)" in summaries
    assert "Plan review: Launch" in summaries

    listed = bob.get(f"/plans/{plan_id}/feeds")
    assert listed.status_code == 200 and "Team" in listed.text
    for page in (listed.text, bob.get(f"/plans/{plan_id}/feeds/{feed.id}").text):
        assert token[1] not in page and hash_token(token[1]) not in page
        assert 'id="feed-url"' not in page and "webcal://" not in page


def test_the_forms_filters_reach_the_feed(
    alice: Browser, client: FlaskClient, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID
) -> None:
    leanplan.add_milestone(
        plan_id, title="Interviews done", kind="assumption", due=date(2031, 2, 1), budget="0",
        owner=Person("Ada Owner", "ada@example.org"), actor="alice",
    )  # fmt: skip
    leanplan.add_milestone(
        plan_id, title="Bo's build", kind="implementation", due=date(2031, 2, 2), budget="0",
        owner=Person("Bo Builder", "bo@example.org"), actor="alice",
    )  # fmt: skip
    created = new_feed(alice, plan_id, owner_email="ada@example.org", kinds=["implementation"])
    assert created.status_code == 201

    calendar = parse(client.get(path_of(Inputs(created.text).values["feed-url"])).data)
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == [
        "Pilot customer signed (implementation, planned)"
    ]
    (feed,) = leanplan.plan(plan_id).plan.feeds
    assert (feed.owner_email, [k.value for k in feed.kinds or ()]) == ("ada@example.org", ["implementation"])
    listed = text_of(alice.get(f"/plans/{plan_id}/feeds").text)
    assert "Milestones of ada@example.org · implementation · no review meeting" in listed
    assert "Never fetched yet" not in listed  # the fetch above counts


def test_a_refused_feed_shows_the_reason_keeps_the_input_and_records_nothing(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    with appends_nothing(plan_id):
        refused = new_feed(alice, plan_id, name="Ann's phone", owner_email="not-an-address", kinds=["assumption"])
    assert refused.status_code == 422
    assert '<p class="error" id="new-feed-error">' in refused.text and "not an email address" in refused.text
    assert Inputs(refused.text).values["new-feed-name"] == "Ann's phone"
    assert re.search(r'id="new-feed-kind-assumption"[^>]*\schecked', refused.text)
    assert not re.search(r'id="new-feed-kind-implementation"[^>]*\schecked', refused.text)
    assert 'id="feed-url"' not in refused.text and leanplan.plan(plan_id).plan.feeds == []


def test_revoking_needs_confirmation_then_the_link_is_gone_at_once(
    alice: Browser, client: FlaskClient, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    created = create_feed(leanplan, plan_id, "Team", actor="alice")
    path, feed_id = f"/feeds/{created.token}.ics", created.feed.id
    revoke = f"/plans/{plan_id}/feeds/{feed_id}/revoke"

    with appends_nothing(plan_id):
        unconfirmed = alice.post(revoke, {"form_id": f"revoke-{feed_id}", "back": "feed"})
    assert unconfirmed.status_code == 422 and "tick the box to confirm" in unconfirmed.text
    assert '<details class="revoke" open>' in unconfirmed.text  # the feed page, its form open
    assert client.get(path).status_code == 200

    revoked = alice.post(revoke, {"form_id": f"revoke-{feed_id}", "back": "list", "confirm": "yes"})
    assert revoked.status_code == 303 and revoked.location == f"/plans/{plan_id}/feeds"
    assert last_entry(leanplan, plan_id) == ("FeedRevoked", "alice")
    gone = client.get(path)
    assert gone.status_code == 404 and gone.data == b"Not Found\n"
    after = alice.get(revoked.location)
    assert "Feed revoked: its link no longer works." in after.text and "No feeds yet." in after.text
    assert alice.get(f"/plans/{plan_id}/feeds/{feed_id}").status_code == 404
    assert alice.post(revoke, {"confirm": "yes"}).status_code == 404


def test_the_debug_page_shows_never_fetched_then_each_fetch_with_its_client_and_status(
    alice: Browser, client: FlaskClient, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID
) -> None:
    created = create_feed(leanplan, plan_id, "Team", actor="alice")
    page = f"/plans/{plan_id}/feeds/{created.feed.id}"
    path = f"/feeds/{created.token}.ics"
    never = alice.get(page)
    assert 'id="never-fetched"' in never.text and "Never fetched yet." in never.text

    first = client.get(path, headers={"User-Agent": "Google-Calendar-Importer"})
    assert first.status_code == 200
    parse(first.data)
    shown = text_of(alice.get(page).text)
    assert "By Google Calendar: Google-Calendar-Importer" in shown
    assert "Answer 200 OK: the app got the whole feed" in shown and "Fetches so far 1" in shown
    assert "Never fetched yet" not in shown

    again = client.get(path, headers={"User-Agent": "Thunderbird/128.0", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    shown = text_of(alice.get(page).text)
    assert "By Thunderbird: Thunderbird/128.0" in shown
    assert "Answer 304 Not Modified" in shown and "Fetches so far 2" in shown
    assert "the app has what the feed contains now" in shown

    listed = alice.get(f"/plans/{plan_id}/feeds").text
    row = re.search(r"<tr>\s*<td data-label=\"Name\">.*?</tr>", listed, re.S)
    assert row is not None and '<td data-label="Fetches" class="num">2</td>' in row[0]
    for html in (listed, alice.get(page).text):
        assert created.token not in html and hash_token(created.token) not in html

    leanplan.reschedule(milestone_id, date(2031, 4, 1), reason="later", actor="alice")
    assert "The plan changed after the last fetch" in text_of(alice.get(page).text)


def test_the_preview_shows_what_the_feed_serves_now(
    carol: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID
) -> None:
    view = leanplan.plan(plan_id)
    zone = ZoneInfo(view.plan.timezone)
    _, skipped, moved = view.next_reviews(datetime.now(zone).date(), count=3)
    leanplan.skip_review_occurrence(plan_id, skipped[0], actor="alice", reason="holidays")
    moved_to = moved[0] + timedelta(days=3)
    leanplan.move_review_occurrence(plan_id, moved[0], new_date=moved_to, new_time=time(14, 30), actor="alice")
    leanplan.reschedule(milestone_id, date(2031, 4, 1), reason="later", actor="alice")
    dropped = leanplan.add_milestone(
        plan_id, title="Dropped idea", kind="assumption", due=date(2031, 1, 5), budget="0",
        owner=Person("Ada Owner", "ada@example.org"), actor="alice",
    )  # fmt: skip
    leanplan.cancel(dropped, reason="no longer needed", actor="alice")
    feed_id = create_feed(leanplan, plan_id, "Team", actor="alice").feed.id
    now = datetime.now(UTC)

    shown = text_of(carol.get(f"/plans/{plan_id}/feeds/{feed_id}").text)

    assert "2031-01-05 Dropped idea (assumption, cancelled) cancelled 1 assumption" in shown
    assert "2031-04-01 Pilot customer signed (implementation, planned) confirmed 1 implementation" in shown
    assert "Repeats RRULE:FREQ=MONTHLY;BYDAY=2FR" in shown
    assert f"Skipped {skipped[0].strftime('%a %Y-%m-%d')} 10:00" in shown
    assert (
        f"{moved[0].strftime('%a %Y-%m-%d')} 10:00 moved to {moved_to.strftime('%a %Y-%m-%d')} 14:30"
        in shown
    )
    meetings = leanplan.plan(plan_id).plan.review_dates(now.date(), now.date() + timedelta(days=800))
    starts = [datetime.combine(day, at, zone) for day, at in meetings]
    expected = [s for s in starts if s >= now][:3]
    listed = re.search(r"Next meetings (.*?) Dated events", shown)
    assert listed is not None
    assert listed[1] == " ".join(f"{s.strftime('%a %Y-%m-%d %H:%M')} (Europe/Berlin)" for s in expected)


def test_viewers_read_the_pages_but_get_no_forms_and_a_403(
    carol: Browser, client: FlaskClient, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    created = create_feed(leanplan, plan_id, "Team", actor="alice")
    listed = carol.get(f"/plans/{plan_id}/feeds")
    shown = carol.get(f"/plans/{plan_id}/feeds/{created.feed.id}")
    for page in (listed, shown):
        assert page.status_code == 200 and "Team" in page.text
        assert 'id="new-feed"' not in page.text and "/revoke" not in page.text

    with appends_nothing(plan_id):
        assert new_feed(carol, plan_id).status_code == 403
        refused = carol.post(f"/plans/{plan_id}/feeds/{created.feed.id}/revoke", {"confirm": "yes"})
    assert refused.status_code == 403
    assert client.get(f"/feeds/{created.token}.ics").status_code == 200
    assert len(leanplan.plan(plan_id).plan.feeds) == 1
    carol.get(f"/plans/{plan_id}/feeds")  # writes the fetch above to the log


def test_non_members_and_unknown_feeds_get_404(
    dave: Browser, alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    feed_id = create_feed(leanplan, plan_id, "Team", actor="alice").feed.id
    with appends_nothing(plan_id):
        for answer in (
            dave.get(f"/plans/{plan_id}/feeds"),
            dave.get(f"/plans/{plan_id}/feeds/{feed_id}"),
            new_feed(dave, plan_id),
            dave.post(f"/plans/{plan_id}/feeds/{feed_id}/revoke", {"confirm": "yes"}),
            alice.get(f"/plans/{plan_id}/feeds/{UUID(int=1)}"),
            alice.get(f"/plans/{UUID(int=2)}/feeds"),
        ):
            assert answer.status_code == 404


def test_a_form_without_the_csrf_token_changes_nothing(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    feed_id = create_feed(leanplan, plan_id, "Team", actor="alice").feed.id
    with appends_nothing(plan_id):
        assert alice.post(f"/plans/{plan_id}/feeds", {"name": "Sneaky"}, csrf=None).status_code == 400
        revoke = f"/plans/{plan_id}/feeds/{feed_id}/revoke"
        assert alice.post(revoke, {"confirm": "yes"}, csrf="forged").status_code == 400


def test_hostile_feed_names_are_shown_as_text(alice: Browser, leanplan: Leanplan, plan_id: UUID) -> None:
    created = new_feed(alice, plan_id, name=HOSTILE)
    assert created.status_code == 201
    (feed,) = leanplan.plan(plan_id).plan.feeds
    refused = new_feed(alice, plan_id, name=HOSTILE, owner_email="nope")
    assert refused.status_code == 422
    pages = [created, refused, alice.get(f"/plans/{plan_id}/feeds"), alice.get(f"/plans/{plan_id}/feeds/{feed.id}")]
    for page in pages:
        assert "<script>window.__pwned" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page.text
        assert "&amp;amp;" in page.text


@pytest.mark.parametrize("page", ["list", "created", "feed"])
def test_the_feed_pages_have_ordered_headings_and_labelled_inputs(
    alice: Browser, client: FlaskClient, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID, page: str
) -> None:
    existing = create_feed(leanplan, plan_id, "Phone", actor="alice")
    client.get(f"/feeds/{existing.token}.ics")
    html = {
        "list": lambda: alice.get(f"/plans/{plan_id}/feeds").text,
        "created": lambda: new_feed(alice, plan_id).text,
        "feed": lambda: alice.get(f"/plans/{plan_id}/feeds/{existing.feed.id}").text,
    }[page]()
    outline = Outline()
    outline.feed(html)
    assert outline.headings.count(1) == 1 and outline.headings[0] == 1
    for before, after in zip(outline.headings, outline.headings[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after}"
    assert len(outline.ids) == len(set(outline.ids)), "duplicate ids"
    assert outline.controls and all(c.get("id") in outline.labelled for c in outline.controls)


def test_the_plan_page_links_to_its_feeds(carol: Browser, plan_id: UUID) -> None:
    assert f'href="/plans/{plan_id}/feeds">Calendar feeds</a>' in carol.get(f"/plans/{plan_id}").text
