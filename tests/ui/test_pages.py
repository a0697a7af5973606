"""Every page renders for its readers, shows what the plan holds, and hides it from everyone else."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from domain.application import Leanplan
from domain.values import Person
from tests.ui.support import Browser

ADA = Person("Ada Owner", "ada@example.org")
BO = Person("Bo Builder", "bo@example.org")


def rows(html: str) -> list[str]:
    """The milestone titles in the plan page's table, in the order shown."""
    table = html.split('<section id="milestones"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<td data-label="Title"><a href="[^"]+">([^<]+)</a>', table)


@pytest.fixture
def busy_plan(leanplan: Leanplan, plan_id: UUID) -> UUID:
    """Four milestones: one overdue, one done, one cancelled, one in the future."""
    today = date.today()
    add = leanplan.add_milestone
    add(
        plan_id,
        title="Overdue thing",
        kind="implementation",
        due=today - timedelta(days=3),
        budget="100",
        owner=ADA,
        actor="alice",
    )
    done = add(
        plan_id,
        title="Done thing",
        kind="assumption",
        due=today - timedelta(days=10),
        budget="200",
        owner=BO,
        actor="alice",
    )
    leanplan.complete(done, actual_cost="250", actor="bob")
    dropped = add(
        plan_id,
        title="Dropped thing",
        kind="plan_review",
        due=today + timedelta(days=5),
        budget="0",
        owner=BO,
        actor="alice",
    )
    leanplan.cancel(dropped, reason="no longer needed", actor="alice")
    later = add(
        plan_id,
        title="Later thing",
        kind="implementation",
        due=today + timedelta(days=40),
        budget="900",
        owner=ADA,
        actor="alice",
    )
    leanplan.reschedule(later, today + timedelta(days=47), reason="supplier is late", actor="bob")
    return plan_id


def test_plans_list_shows_only_the_users_plans(alice: Browser, dave: Browser, plan_id: UUID) -> None:
    assert ">Launch</a>" in alice.get("/plans").text
    page = dave.get("/plans").text
    assert "Launch" not in page and "You have no plans yet" in page
    assert alice.get("/").location == "/plans"


def test_plan_page_shows_milestones_sorted_by_due_date_and_marks_overdue(
    alice: Browser, busy_plan: UUID
) -> None:
    page = alice.get(f"/plans/{busy_plan}").text
    assert rows(page) == ["Done thing", "Overdue thing", "Dropped thing", "Later thing"]
    overdue_row = page.split(">Overdue thing<", 1)[1].split("</tr>", 1)[0]
    assert "Overdue</span>" in overdue_row
    done_row = page.split(">Done thing<", 1)[1].split("</tr>", 1)[0]
    assert "Overdue</span>" not in done_row and "Done</span>" in done_row
    assert "+7 days" in page
    assert rows(alice.get(f"/plans/{busy_plan}?sort=-due").text) == [
        "Later thing",
        "Dropped thing",
        "Overdue thing",
        "Done thing",
    ]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("kind=implementation", ["Overdue thing", "Later thing"]),
        ("owner=bo@example.org", ["Done thing", "Dropped thing"]),
        ("status=cancelled", ["Dropped thing"]),
        ("status=overdue", ["Overdue thing"]),
        ("kind=implementation&owner=ada@example.org&status=planned", ["Overdue thing", "Later thing"]),
        ("kind=nonsense", []),
    ],
)
def test_plan_page_filters_by_kind_owner_and_status(
    alice: Browser, busy_plan: UUID, query: str, expected: list[str]
) -> None:
    answer = alice.get(f"/plans/{busy_plan}?{query}")
    assert answer.status_code == 200
    assert rows(answer.text) == expected


def test_plan_page_shows_reviews_assumptions_budget_and_the_timeline(
    alice: Browser, busy_plan: UUID, assumption_id: UUID
) -> None:
    page = alice.get(f"/plans/{busy_plan}").text
    assert page.count("at 10:00 (Europe/Berlin)") == 3, "the next three review dates"
    assert "Teams will pay for reviews" in page and "Untested</span>" in page
    assert "1,200.00 EUR" in page, "planned total without the cancelled milestone"
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    later = (date.today() + timedelta(days=47)).isoformat()
    assert f'data-due="{later}" data-slip="7"' in page
    assert 'class="today"' in page and 'class="review"' in page
    for heading in ("<h1>Launch</h1>", 'id="milestones-h">Milestones</h2>', "<h3>Add an assumption</h3>"):
        assert heading in page


def test_the_plan_as_of_a_past_moment_is_read_only(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID
) -> None:
    moment = datetime.now(UTC)
    leanplan.edit_milestone(milestone_id, title="Renamed later", actor="alice")
    now = alice.get(f"/plans/{plan_id}").text
    assert "Renamed later" in now
    past = alice.get(f"/plans/{plan_id}", query_string={"as_of": moment.isoformat()}).text
    assert "Pilot customer signed" in past and "Renamed later" not in past
    assert "read-only" in past
    assert 'id="new-milestone"' not in past and '<form method="post" action="/plans/' not in past


@pytest.mark.parametrize(
    "as_of, status, message",
    [("2001-01-01T00:00", 404, "did not exist yet"), ("yesterday", 422, "YYYY-MM-DDTHH:MM")],
)
def test_an_impossible_moment_explains_itself(
    alice: Browser, plan_id: UUID, as_of: str, status: int, message: str
) -> None:
    answer = alice.get(f"/plans/{plan_id}", query_string={"as_of": as_of})
    assert answer.status_code == status
    assert message in answer.text


def test_milestone_page_shows_its_history_and_slip(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID
) -> None:
    leanplan.reschedule(milestone_id, date(2031, 4, 1), reason="legal review", actor="bob")
    page = alice.get(f"/plans/{plan_id}/milestones/{milestone_id}").text
    assert "<h1>Pilot customer signed</h1>" in page
    assert "2031-03-14" in page and "2031-04-01" in page
    assert "+18 days" in page and "(1 reschedule)" in page
    added, moved = page.index("Milestone added"), page.index("Milestone rescheduled")
    assert added < moved, "history reads old to new"
    entry = page[moved:].split("</li>", 1)[0]
    assert "<td>2031-03-14</td><td>2031-04-01</td>" in entry
    assert "legal review" in entry
    assert "<strong>bob</strong>" in page[:moved].rsplit("<li", 1)[1]


def test_review_page_builds_the_agenda(
    alice: Browser, leanplan: Leanplan, busy_plan: UUID, assumption_id: UUID
) -> None:
    page = alice.get(f"/plans/{busy_plan}/review").text
    due_since = page.split('id="due-since-h"', 1)[1].split("</section>", 1)[0]
    assert "Done thing" in due_since and "Overdue thing" in due_since
    assert "No review has been held yet." in page
    slipped = page.split("Slipped, and why", 1)[1].split("<h3>", 1)[0]
    assert "Later thing" in slipped and "(+7 days)" in slipped and "supplier is late" in slipped
    assert "Dropped thing</a>: no longer needed" in page
    assert "Teams will pay for reviews" in page.split('id="open-assumptions-h"', 1)[1]
    assert "Budget: planned vs actual" in page and "250.00 EUR" in page
    assert 'id="hold-review"' in page


def test_review_page_counts_from_the_last_review(alice: Browser, leanplan: Leanplan, busy_plan: UUID) -> None:
    leanplan.hold_review(busy_plan, held_on=date.today() - timedelta(days=5), notes="", actor="alice")
    page = alice.get(f"/plans/{busy_plan}/review").text
    due_since = page.split('id="due-since-h"', 1)[1].split("</section>", 1)[0]
    assert "Overdue thing" in due_since and "Done thing" not in due_since
    assert "Nothing slipped." in page
    assert f"Last review held on {(date.today() - timedelta(days=5)).isoformat()} by alice." in page


def test_history_page_lists_every_change_and_filters_them(
    alice: Browser, busy_plan: UUID, leanplan: Leanplan
) -> None:
    page = alice.get(f"/plans/{busy_plan}/history").text
    assert page.count('<li class="entry"') == len(list(leanplan.history(busy_plan)))
    later = next(m for m in leanplan.plan(busy_plan).milestones if m.title == "Later thing")
    by_milestone = alice.get(f"/plans/{busy_plan}/history?milestone={later.id}").text
    assert by_milestone.count('<li class="entry"') == 2
    by_actor = alice.get(f"/plans/{busy_plan}/history?actor=bob").text
    assert by_actor.count('<li class="entry"') == 2
    by_type = alice.get(f"/plans/{busy_plan}/history?type=MilestoneCancelled").text
    assert by_type.count('<li class="entry"') == 1 and "no longer needed" in by_type
    today = datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
    in_range = alice.get(f"/plans/{busy_plan}/history?since={today}&until={today}").text
    assert in_range.count('<li class="entry"') == len(list(leanplan.history(busy_plan)))
    before = alice.get(f"/plans/{busy_plan}/history?until=2001-01-01").text
    assert "No changes recorded that match these filters." in before
    assert "What changed since the last review" in page


def test_history_page_pages_forward_keeping_the_filters(alice: Browser, busy_plan: UUID) -> None:
    first = alice.get(f"/plans/{busy_plan}/history?limit=3&actor=alice").text
    positions = re.findall(r'<span class="pos">#(\d+)</span>', first)
    assert len(positions) == 3
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert next_link and "actor=alice" in next_link.group(1) and "limit=3" in next_link.group(1)
    second = alice.get(next_link.group(1).replace("&amp;", "&")).text
    later = re.findall(r'<span class="pos">#(\d+)</span>', second)
    assert later and int(later[0]) > int(positions[-1])
    assert "First page" in second


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "after=-1", "milestone=nope", "since=31.12.2030"])
def test_history_page_rejects_bad_filters_without_failing(alice: Browser, plan_id: UUID, query: str) -> None:
    answer = alice.get(f"/plans/{plan_id}/history?{query}")
    assert answer.status_code == 422
    assert 'class="error" role="alert"' in answer.text


def test_non_members_get_404_everywhere(dave: Browser, plan_id: UUID, milestone_id: UUID) -> None:
    for path in ("", "/review", "/history", f"/milestones/{milestone_id}"):
        answer = dave.get(f"/plans/{plan_id}{path}")
        assert answer.status_code == 404, path
        assert "Launch" not in answer.text and "Not found" in answer.text


def test_viewers_read_but_see_no_forms(carol: Browser, plan_id: UUID, milestone_id: UUID) -> None:
    for path in ("", "/review", f"/milestones/{milestone_id}"):
        answer = carol.get(f"/plans/{plan_id}{path}")
        assert answer.status_code == 200, path
        assert 'method="post" action="/plans/' not in answer.text, path


def test_unknown_plans_and_milestones_are_404(alice: Browser, plan_id: UUID, leanplan: Leanplan) -> None:
    other = leanplan.start_plan("Other", actor="alice")
    foreign = leanplan.add_milestone(
        other,
        title="Elsewhere",
        kind="implementation",
        due=date(2031, 1, 1),
        budget="0",
        owner=ADA,
        actor="alice",
    )
    assert alice.get("/plans/00000000-0000-0000-0000-000000000000").status_code == 404
    assert alice.get("/plans/not-a-uuid").status_code == 404
    assert alice.get(f"/plans/{plan_id}/milestones/{foreign}").status_code == 404


def test_a_large_plan_keeps_its_page_small(alice: Browser, leanplan: Leanplan, plan_id: UUID) -> None:
    today = date.today()
    for number in range(61):
        leanplan.add_milestone(
            plan_id,
            title=f"Step {number:02d}",
            kind="implementation",
            due=today + timedelta(days=number * 7 - 200),
            budget="1",
            owner=ADA,
            actor="alice",
        )
    page = alice.get(f"/plans/{plan_id}").text
    assert len(rows(page)) == 61, "the table still lists every milestone"
    assert page.count('class="milestone"') == 60
    assert "Showing the 60 of 61 milestones due nearest today" in page
    assert 'class="milestone-changes"' not in page
    assert "filter the table to 25 or fewer to change them here" in page
    filtered = alice.get(f"/plans/{plan_id}?status=overdue").text
    assert filtered.count('class="milestone"') == len(rows(filtered)) == 29
    assert alice.get(f"/plans/{plan_id}?owner=nobody@example.org").text.count("milestone-changes") == 0
