"""The calendar links page: linking through the form reaches a real Radicale through the sync
worker, the page shows how the sync is doing, and the password shows up nowhere."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask import Flask
from ical.calendar_stream import IcsCalendarStream

from adapters.caldav_content import review_uid
from adapters.caldav_state import SideDatabase, SyncState
from adapters.caldav_sync import CalendarSync
from adapters.secrets import LinkSecrets, cipher
from domain.application import Leanplan
from tests.caldav.conftest import FAST, SECRET_KEY
from tests.caldav.conftest import collection, radicale  # noqa: F401 - its Radicale fixtures
from tests.caldav.support import CalendarApp, Radicale
from tests.ui.support import CSRF, Browser
from tests.ui.test_accessibility import Outline
from web import create_app

PASSWORD = "hunter2-Calendar-Secret-9c1e"
A_URL, B_URL = "https://cal.example.org/a/", "https://cal.example.org/b/"
Guard = Callable[[UUID], AbstractContextManager[None]]


@pytest.fixture
def app(leanplan: Leanplan) -> Flask:
    """The pages with a key to encrypt calendar passwords (the UI conftest's app has none)."""
    return create_app(
        {"LEANPLAN_APP": leanplan, "TESTING": True, "SECRET_KEY": "test-secret",
         "LEANPLAN_SECRET_KEY": SECRET_KEY}
    )  # fmt: skip


@pytest.fixture
def secrets(leanplan: Leanplan) -> LinkSecrets:
    return LinkSecrets(SideDatabase(leanplan), cipher(SECRET_KEY))


@pytest.fixture
def worker(leanplan: Leanplan, secrets: LinkSecrets) -> CalendarSync:
    return CalendarSync(
        leanplan, secrets=secrets, settings=FAST, state=SyncState(SideDatabase(leanplan))
    )


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A Radicale that wants a password: ann's is 'right'."""
    folder = tmp_path_factory.mktemp("guarded")
    htpasswd = folder / "users"
    htpasswd.write_text("ann:right\n")
    server = Radicale(folder, htpasswd=htpasswd)
    CalendarApp(f"{server.url}/ann/work/", "ann", "right").create_collection()
    yield server
    server.stop()


def link_form(url: str, **changes: Any) -> dict[str, Any]:
    form = {
        "form_id": "link-calendar", "name": "Team calendar", "url": url, "username": "ann",
        "password": PASSWORD, "direction": "two_way", "conflict_policy": "plan_wins",
        "owner_email": "",
    }  # fmt: skip
    return form | changes


def links_page(plan_id: UUID) -> str:
    return f"/plans/{plan_id}/calendar-links"


def fact(html: str, term: str) -> str:
    """The text of `<dt>term</dt><dd>…</dd>` on the page, tags stripped."""
    found = re.search(rf"<dt>{re.escape(term)}</dt><dd>(.*?)</dd>", html, re.DOTALL)
    assert found is not None, f"no {term!r} on the page"
    return re.sub(r"<[^>]+>", "", found.group(1))


def only_link(leanplan: Leanplan, plan_id: UUID) -> UUID:
    (link,) = leanplan.plan(plan_id).plan.calendar_links
    return link.id


def test_the_plan_page_leads_to_the_calendars(alice: Browser, plan_id: UUID) -> None:
    assert f'href="{links_page(plan_id)}"' in alice.get(f"/plans/{plan_id}").text


def test_a_calendar_linked_through_the_form_is_filled_by_the_worker_and_shows_its_state(
    bob: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID, collection: str,
    worker: CalendarSync,
) -> None:  # fmt: skip
    form = bob.get(links_page(plan_id)).text
    assert 'id="link-calendar"' in form and 'type="password"' in form
    answer = bob.post(links_page(plan_id), link_form(collection))
    assert answer.status_code == 303 and answer.location == links_page(plan_id)
    pending = bob.get(answer.location).text
    assert "Calendar linked." in pending and "Waiting for the first sync" in pending
    assert fact(pending, "Last sync") == "Not yet"
    entry = list(leanplan.history(plan_id))[-1]
    assert (entry.type, entry.actor) == ("CalendarLinked", "bob")

    report = worker.sync_once()

    assert not report.failed and report.written >= 2
    calendar = CalendarApp(collection)
    objects = calendar.objects()
    for body in objects.values():
        icalendar.Calendar.from_ical(body)
        IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert set(objects) == {f"{milestone_id}.ics", f"{review_uid(plan_id)}.ics"}
    page = bob.get(links_page(plan_id)).text
    assert "In sync" in page
    assert fact(page, "Items in sync") == str(len(objects)) == "2"  # the milestone, the review
    state = worker.state.link(only_link(leanplan, plan_id))
    assert state is not None and state.last_sync_at is not None
    berlin = state.last_sync_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert fact(page, "Last sync") == f"{berlin:%Y-%m-%d %H:%M} (Europe/Berlin)"
    assert fact(page, "Calendar URL") == collection
    assert fact(page, "User name") == "ann"
    assert fact(page, "Direction") == "Two-way"
    assert fact(page, "Conflicts") == "The plan wins"
    assert 'class="error" id="link-' not in page, "no error is shown for a working link"


def test_filters_and_choices_from_the_form_are_recorded_as_the_api_records_them(
    alice: Browser, leanplan: Leanplan, plan_id: UUID
) -> None:
    form = link_form(
        "https://cloud.example.org/dav/ann/work", direction="push",
        conflict_policy="calendar_wins", owner_email=" ada@example.org ",
        kinds=["implementation", "assumption"],
    )  # fmt: skip
    assert alice.post(links_page(plan_id), form).status_code == 303
    (link,) = leanplan.plan(plan_id).plan.calendar_links
    assert (link.url, link.direction.value, link.conflict_policy.value) == (
        "https://cloud.example.org/dav/ann/work/", "push", "calendar_wins",
    )  # fmt: skip
    assert link.owner_email == "ada@example.org"
    assert [kind.value for kind in link.kinds or ()] == ["assumption", "implementation"]
    page = alice.get(links_page(plan_id)).text
    assert fact(page, "Direction") == "Push only"
    assert fact(page, "Conflicts") == "The calendar wins"
    assert fact(page, "Owner filter") == "ada@example.org"
    assert fact(page, "Kinds") == "assumption, implementation"


def test_a_refused_password_shows_as_failing_on_the_page(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID, guarded: Radicale,
    worker: CalendarSync,
) -> None:  # fmt: skip
    url = f"{guarded.url}/ann/work/"
    wrong = "wrong-Password-5d2b"
    assert alice.post(links_page(plan_id), link_form(url, password=wrong)).status_code == 303
    report = worker.sync_once()
    assert "HTTP 401" in report.failed[only_link(leanplan, plan_id)]
    page = alice.get(links_page(plan_id)).text
    assert 'class="badge overdue">Failing<' in page
    error = page.split('class="error" id="link-', 1)[1].split("</p>", 1)[0]
    assert "Sync is failing" in error and "refused the credentials (HTTP 401)" in error
    assert fact(page, "Last sync") == "Not yet"
    assert wrong not in page


def test_the_password_is_in_no_page_history_or_stored_event(
    alice: Browser, carol: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID,
    collection: str, worker: CalendarSync, secrets: LinkSecrets, tmp_path: Path,
) -> None:  # fmt: skip
    rejected = alice.post(links_page(plan_id), link_form("not a url"))
    assert rejected.status_code == 422
    assert alice.post(links_page(plan_id), link_form(collection)).status_code == 303
    link_id = only_link(leanplan, plan_id)
    worker.sync_once()
    assert alice.post(f"{links_page(plan_id)}/{link_id}/unlink").status_code == 303
    assert alice.post(links_page(plan_id), link_form(collection, name="Again")).status_code == 303
    worker.sync_once()

    plan = f"/plans/{plan_id}"
    paths = (
        links_page(plan_id), f"{plan}/history", f"{plan}/history?type=CalendarLinked", plan,
        f"{plan}/review", f"{plan}/milestones/{milestone_id}",
    )  # fmt: skip
    pages = {(who, path): who.get(path).text for who in (alice, carol) for path in paths}
    assert "Again" in pages[alice, paths[0]] and "In sync" in pages[alice, paths[0]]
    history = pages[carol, paths[1]]
    assert "Calendar linked" in history and "Calendar unlinked" in history
    assert "Team calendar" in history and collection in history
    assert not [key for key, page in pages.items() if PASSWORD in page]
    assert PASSWORD not in rejected.text
    events = leanplan.recorder.select_notifications(start=1, limit=10_000)
    assert {"CalendarLinked", "CalendarUnlinked"} <= {e.topic.rsplit(".", 1)[1] for e in events}
    assert not [e for e in events if PASSWORD.encode() in e.state or PASSWORD in e.topic]
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("ui.sqlite3*"))
    assert b"CalendarLinked" in raw and PASSWORD.encode() not in raw
    # It is stored, encrypted, for the worker: the scans above looked where it could have leaked.
    assert secrets.get(only_link(leanplan, plan_id)) == PASSWORD


def test_unlinking_with_remove_items_removes_what_was_pushed(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID, collection: str,
    worker: CalendarSync,
) -> None:  # fmt: skip
    assert alice.post(links_page(plan_id), link_form(collection)).status_code == 303
    link_id = only_link(leanplan, plan_id)
    worker.sync_once()
    assert len(CalendarApp(collection).names()) == 2
    page = alice.get(links_page(plan_id)).text
    assert 'name="remove_items" value="true"' in page and "Also remove the items pushed" in page

    answer = alice.post(f"{links_page(plan_id)}/{link_id}/unlink", {"remove_items": "true"})

    assert answer.status_code == 303
    after = alice.get(answer.location).text
    assert "Calendar unlinked." in after and "No calendar is linked to this plan." in after
    entry = list(leanplan.history(plan_id))[-1]
    assert (entry.type, entry.actor) == ("CalendarUnlinked", "alice")
    assert entry.changes["remove_items"].new is True
    assert not worker.sync_once().failed
    assert CalendarApp(collection).names() == {}


def test_viewers_see_no_forms_and_cannot_post(
    alice: Browser, carol: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    assert alice.post(links_page(plan_id), link_form(A_URL)).status_code == 303
    link_id = only_link(leanplan, plan_id)
    page = carol.get(links_page(plan_id))
    assert page.status_code == 200 and "Team calendar" in page.text
    assert "<form" not in page.text.split("<main", 1)[1]
    assert 'type="password"' not in page.text
    with appends_nothing(plan_id):
        assert carol.post(links_page(plan_id), link_form(B_URL)).status_code == 403
        assert carol.post(f"{links_page(plan_id)}/{link_id}/unlink").status_code == 403
    assert only_link(leanplan, plan_id) == link_id


def test_non_members_get_404(
    alice: Browser, dave: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    assert alice.post(links_page(plan_id), link_form(A_URL)).status_code == 303
    link_id = only_link(leanplan, plan_id)
    assert dave.get(links_page(plan_id)).status_code == 404
    with appends_nothing(plan_id):
        assert dave.post(links_page(plan_id), link_form(B_URL)).status_code == 404
        assert dave.post(f"{links_page(plan_id)}/{link_id}/unlink").status_code == 404
    assert alice.post(f"{links_page(plan_id)}/{UUID(int=7)}/unlink").status_code == 404


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a usable calendar URL"),
        ("ftp://example.org/cal/", "must be an absolute http:// or https:// URL"),
        ("https://ann:pw@example.org/cal/", "put the user name and password in their own fields"),
    ],
)
def test_an_invalid_url_is_explained_at_the_field_and_appends_nothing(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard, url: str,
    message: str,
) -> None:  # fmt: skip
    with appends_nothing(plan_id):
        answer = alice.post(links_page(plan_id), link_form(url, kinds=["assumption"]))
    assert answer.status_code == 422
    field_error = answer.text.split('id="link-calendar-url-error">', 1)[1].split("</p>", 1)[0]
    assert message in field_error
    url_input = re.search(r'<input id="link-calendar-url"[^>]*>', answer.text)
    assert url_input is not None and 'aria-invalid="true"' in url_input.group(0)
    assert "link-calendar-url-error" in url_input.group(0)  # aria-describedby
    assert 'value="Team calendar"' in answer.text, "what was typed is kept"
    assert re.search(r'name="kinds" value="assumption" checked', answer.text)
    password_input = re.search(r'<input id="link-calendar-password"[^>]*>', answer.text)
    assert password_input is not None and "value=" not in password_input.group(0)
    assert PASSWORD not in answer.text
    with SideDatabase(leanplan).transaction() as cursor:
        cursor.execute("SELECT COUNT(*) FROM leanplan_link_secrets")
        assert cursor.rows() == [(0,)]


def test_without_a_secret_key_the_page_says_why_instead_of_failing(
    leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEANPLAN_SECRET_KEY", raising=False)
    keyless = create_app({"LEANPLAN_APP": leanplan, "TESTING": True, "SECRET_KEY": "test-secret"})
    client = keyless.test_client()
    with client.session_transaction() as session:
        session["user"], session["csrf"] = "alice", CSRF
    alice = Browser(client)
    page = alice.get(links_page(plan_id))
    assert page.status_code == 200
    notice = page.text.split('<section id="link"', 1)[1]
    assert "Calendars cannot be linked on this server" in notice
    assert "LEANPLAN_SECRET_KEY is not set" in notice
    assert 'type="password"' not in notice
    with appends_nothing(plan_id):
        answer = alice.post(links_page(plan_id), link_form(A_URL))
    assert answer.status_code == 422 and "LEANPLAN_SECRET_KEY is not set" in answer.text
    assert PASSWORD not in answer.text


def test_forms_without_the_csrf_token_are_refused(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    assert alice.post(links_page(plan_id), link_form(A_URL)).status_code == 303
    unlink = f"{links_page(plan_id)}/{only_link(leanplan, plan_id)}/unlink"
    with appends_nothing(plan_id):
        assert alice.post(links_page(plan_id), link_form(B_URL), csrf=None).status_code == 400
        assert alice.post(unlink, {"remove_items": "true"}, csrf="forged").status_code == 400


def test_what_people_typed_is_escaped(alice: Browser, plan_id: UUID) -> None:
    hostile = '<script>alert("x")</script>'
    form = link_form(f"https://cal.example.org/{hostile}", name=hostile, username='"><b>')
    assert alice.post(links_page(plan_id), form).status_code == 303
    page = alice.get(links_page(plan_id)).text
    assert hostile not in page and '"><b>' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_the_page_is_labelled_and_ordered_after_a_rejected_form_too(
    alice: Browser, plan_id: UUID
) -> None:
    assert alice.post(links_page(plan_id), link_form(A_URL)).status_code == 303
    pages = [
        alice.get(links_page(plan_id)).text,
        alice.post(links_page(plan_id), link_form("not a url", name="B")).text,
    ]
    for page in pages:
        outline = Outline()
        outline.feed(page)
        assert outline.headings[:3] == [1, 2, 3] and outline.headings.count(1) == 1
        steps = zip(outline.headings, outline.headings[1:], strict=False)
        assert all(after <= before + 1 for before, after in steps)
        assert len(outline.ids) == len(set(outline.ids))
        assert len(outline.controls) == 11  # unlink: 1; link: 5 inputs, 2 selects, 3 kinds
        assert not [c for c in outline.controls if c.get("id") not in outline.labelled]
