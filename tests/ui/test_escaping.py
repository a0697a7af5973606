"""User text is shown as text on every page and in every chart: it can never become markup."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from domain.application import Leanplan
from domain.values import Person
from tests.ui.support import Browser

HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">&amp;'


@pytest.fixture
def hostile_plan(leanplan: Leanplan) -> tuple[UUID, UUID]:
    """Every piece of user text in a plan carries markup."""
    plan = leanplan.start_plan(HOSTILE, actor="alice")
    assumption = leanplan.add_assumption(
        plan, HOSTILE, test=HOSTILE, success_criterion=HOSTILE, actor="alice"
    )
    milestone = leanplan.add_milestone(
        plan,
        title=HOSTILE,
        description=HOSTILE,
        kind="assumption",
        due=date(2031, 1, 1),
        budget="5",
        owner=Person(HOSTILE, "x@example.org"),
        assumption_id=assumption,
        actor="alice",
    )
    leanplan.reschedule(milestone, date(2031, 2, 1), reason=HOSTILE, actor="alice")
    leanplan.validate_assumption(plan, assumption, evidence=HOSTILE, actor="alice")
    leanplan.hold_review(plan, held_on=date(2030, 12, 1), notes=HOSTILE, decisions=(HOSTILE,), actor="alice")
    leanplan.reschedule(milestone, date(2031, 3, 1), reason=HOSTILE, actor="alice")
    return plan, milestone


@pytest.mark.parametrize(
    "path",
    [
        "/plans",
        "",
        "/review",
        "/history",
        "/milestones/{milestone}",
        "/history?actor=alice&type=MilestoneRescheduled",
    ],
)
def test_hostile_text_is_escaped_everywhere(
    alice: Browser, hostile_plan: tuple[UUID, UUID], path: str
) -> None:
    plan, milestone = hostile_plan
    url = "/plans" if path == "/plans" else f"/plans/{plan}{path.format(milestone=milestone)}"
    page = alice.get(url).text
    assert "<script>window" not in page and "<img src=x" not in page
    assert 'onerror="window' not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;img src=x onerror=" in page
    assert "&amp;amp;" in page, "even an entity in user text is shown literally"


def test_the_charts_escape_titles(alice: Browser, hostile_plan: tuple[UUID, UUID]) -> None:
    plan, _ = hostile_plan
    page = alice.get(f"/plans/{plan}").text
    chart = page.split('<figure class="chart">', 1)[1].split("</figure>", 1)[0]
    assert "&lt;script&gt;" in chart and "<script" not in chart


def test_a_form_rejected_with_hostile_input_escapes_it_too(alice: Browser, leanplan: Leanplan) -> None:
    answer = alice.post("/plans", {"form_id": "new-plan", "name": HOSTILE, "currency": HOSTILE})
    assert answer.status_code == 422
    assert "<script>window" not in answer.text and "<img src=x" not in answer.text
    assert "&lt;script&gt;" in answer.text
