"""Every form: it changes the plan as the signed-in user, and a broken rule is shown, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from domain.application import Leanplan
from domain.values import AssumptionStatus, MilestoneStatus
from tests.ui.support import CSRF, Browser, milestone_form

Guard = Callable[[UUID], AbstractContextManager[None]]


def last_entry(leanplan: Leanplan, plan_id: UUID) -> tuple[str, str, str | None]:
    entry = list(leanplan.history(plan_id))[-1]
    return entry.type, entry.actor, entry.reason


def test_start_a_plan(alice: Browser, leanplan: Leanplan) -> None:
    answer = alice.post(
        "/plans", {"form_id": "new-plan", "name": "Q3 plan", "timezone": "Asia/Tokyo", "currency": "jpy"}
    )
    assert answer.status_code == 303
    plan = next(p for p in leanplan.plans_of("alice") if p.name == "Q3 plan")
    assert answer.location == f"/plans/{plan.id}"
    assert (plan.timezone, plan.currency, plan.role_of("alice").value) == ("Asia/Tokyo", "JPY", "owner")


def test_a_refused_plan_shows_the_reason_and_keeps_the_input(alice: Browser, leanplan: Leanplan) -> None:
    answer = alice.post("/plans", {"form_id": "new-plan", "name": "Q3 plan", "currency": "XXQ"})
    assert answer.status_code == 422
    assert '<p class="error" id="new-plan-error">' in answer.text
    assert "not an ISO 4217 currency code" in answer.text
    assert 'value="Q3 plan"' in answer.text
    assert leanplan.plans_of("alice") == []


def test_add_a_milestone_as_the_signed_in_user(bob: Browser, leanplan: Leanplan, plan_id: UUID) -> None:
    answer = bob.post(f"/plans/{plan_id}/milestones", milestone_form(description="line one\r\nline two"))
    assert answer.status_code == 303 and answer.location == f"/plans/{plan_id}#milestones"
    (milestone,) = leanplan.plan(plan_id).milestones
    assert (milestone.title, milestone.due, milestone.budget) == (
        "Beta launched",
        date(2031, 5, 1),
        Decimal("2500.00"),
    )
    assert milestone.description == "line one\nline two"
    assert last_entry(leanplan, plan_id) == ("MilestoneAdded", "bob", None)
    assert "Milestone added." in bob.get(answer.location).text


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"due": "next week"}, "give a date as YYYY-MM-DD"),
        ({"title": "   "}, "a title has 1 to 200 characters"),
        ({"budget": "-5"}, "an amount cannot be negative"),
        ({"owner_email": "not-an-email"}, "not an email address"),
        ({"kind": "party"}, "unknown kind"),
    ],
)
def test_a_refused_milestone_is_explained_next_to_its_form(
    alice: Browser, plan_id: UUID, appends_nothing: Guard, changes: dict[str, str], message: str
) -> None:
    with appends_nothing(plan_id):
        answer = alice.post(f"/plans/{plan_id}/milestones", milestone_form(**changes))
    assert answer.status_code == 422
    error = answer.text.split('id="new-milestone-error">', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert 'value="Bo Builder"' in answer.text, "what was typed is kept"


def test_edit_changes_every_field_at_once(
    bob: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID
) -> None:
    form = {
        "form_id": f"edit-{milestone_id}",
        "title": "Pilot signed",
        "description": "Two sites",
        "owner_name": "Cy Closer",
        "owner_email": "cy@example.org",
        "budget": "1800",
        "reason": "a second site",
        "back": "milestone",
    }
    answer = bob.post(f"/plans/{plan_id}/milestones/{milestone_id}/edit", form)
    assert answer.status_code == 303
    assert answer.location == f"/plans/{plan_id}/milestones/{milestone_id}"
    milestone = leanplan.milestone(milestone_id)
    assert (milestone.title, milestone.description, milestone.owner.name, milestone.budget) == (
        "Pilot signed",
        "Two sites",
        "Cy Closer",
        Decimal("1800.00"),
    )
    types = [e.type for e in leanplan.history(plan_id) if e.actor == "bob"]
    assert sorted(types) == sorted(
        ["MilestoneRetitled", "MilestoneDescribed", "MilestoneReassigned", "MilestoneBudgetChanged"]
    )


def test_a_budget_change_without_a_reason_changes_nothing(
    alice: Browser, plan_id: UUID, milestone_id: UUID, appends_nothing: Guard
) -> None:
    form = {
        "form_id": f"edit-{milestone_id}",
        "title": "New title",
        "owner_name": "Ada Owner",
        "owner_email": "ada@example.org",
        "budget": "99.00",
        "reason": "",
        "back": "milestone",
    }
    with appends_nothing(plan_id):
        answer = alice.post(f"/plans/{plan_id}/milestones/{milestone_id}/edit", form)
    assert answer.status_code == 422
    assert "a reason is required" in answer.text
    assert "<h1>Pilot customer signed</h1>" in answer.text, "the milestone page is shown again"
    assert 'value="New title"' in answer.text


def test_reschedule_needs_a_reason_and_a_new_date(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID, appends_nothing: Guard
) -> None:
    url = f"/plans/{plan_id}/milestones/{milestone_id}/reschedule"
    form = {"form_id": f"reschedule-{milestone_id}", "due": "2031-04-01", "reason": ""}
    with appends_nothing(plan_id):
        assert alice.post(url, form).status_code == 422
        assert alice.post(url, {**form, "due": "2031-03-14", "reason": "why not"}).status_code == 409
    answer = alice.post(url, {**form, "reason": "the customer's lawyers"})
    assert answer.status_code == 303
    assert leanplan.milestone(milestone_id).due == date(2031, 4, 1)
    assert last_entry(leanplan, plan_id) == ("MilestoneRescheduled", "alice", "the customer's lawyers")


def test_complete_reopen_and_cancel(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, milestone_id: UUID, appends_nothing: Guard
) -> None:
    base = f"/plans/{plan_id}/milestones/{milestone_id}"
    done = alice.post(
        f"{base}/complete", {"completed_on": "2031-03-10", "actual_cost": "1700.50", "note": "signed"}
    )
    assert done.status_code == 303
    milestone = leanplan.milestone(milestone_id)
    assert (milestone.status, milestone.actual_cost) == (MilestoneStatus.DONE, Decimal("1700.50"))
    with appends_nothing(plan_id):
        again = alice.post(f"{base}/complete", {"form_id": f"complete-{milestone_id}"})
        assert again.status_code == 409 and "reopen it first" in again.text
        assert alice.post(f"{base}/reopen", {"reason": " "}).status_code == 422
    assert alice.post(f"{base}/reopen", {"reason": "the contract was voided"}).status_code == 303
    assert alice.post(f"{base}/cancel", {"reason": "customer left"}).status_code == 303
    assert leanplan.milestone(milestone_id).status == MilestoneStatus.CANCELLED
    assert last_entry(leanplan, plan_id) == ("MilestoneCancelled", "alice", "customer left")


def test_assumptions_are_added_and_resolved(
    bob: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    added = bob.post(f"/plans/{plan_id}/assumptions", {"statement": "Buyers want it", "test": "a survey"})
    assert added.status_code == 303
    (assumption,) = leanplan.plan(plan_id).plan.assumptions
    url = f"/plans/{plan_id}/assumptions/{assumption.id}"
    with appends_nothing(plan_id):
        empty = bob.post(f"{url}/validate", {"form_id": f"resolve-{assumption.id}", "evidence": ""})
        assert empty.status_code == 422 and "say what evidence" in empty.text
    assert bob.post(f"{url}/invalidate", {"evidence": "2 of 40 said yes"}).status_code == 303
    resolved = leanplan.plan(plan_id).plan.assumption(assumption.id)
    assert (resolved.status, resolved.evidence) == (AssumptionStatus.INVALIDATED, "2 of 40 said yes")
    assert last_entry(leanplan, plan_id)[:2] == ("AssumptionInvalidated", "bob")


@pytest.mark.parametrize("back, landing", [("plan", "/plans/{plan}"), ("review", "/plans/{plan}/review")])
def test_record_a_review_held_with_its_decisions(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, back: str, landing: str
) -> None:
    answer = alice.post(
        f"/plans/{plan_id}/review",
        {
            "form_id": "hold-review",
            "back": back,
            "held_on": "2031-01-10",
            "notes": "Good month",
            "decisions": "Hire a designer\r\n\r\nDrop the app\r\n",
        },
    )
    assert answer.status_code == 303 and answer.location == landing.format(plan=plan_id)
    (review,) = leanplan.plan(plan_id).plan.reviews
    assert (review.held_on, review.decisions, review.actor) == (
        date(2031, 1, 10),
        ("Hire a designer", "Drop the app"),
        "alice",
    )
    assert "Hire a designer" in alice.get(f"/plans/{plan_id}/review").text


def test_a_review_without_a_date_is_refused_on_the_page_it_came_from(
    alice: Browser, plan_id: UUID, appends_nothing: Guard
) -> None:
    with appends_nothing(plan_id):
        answer = alice.post(
            f"/plans/{plan_id}/review",
            {"form_id": "hold-review", "back": "review", "held_on": "", "notes": "kept"},
        )
    assert answer.status_code == 422
    assert "<h1>Review agenda</h1>" in answer.text and ">\nkept</textarea>" in answer.text


def test_the_owner_shares_and_unshares_the_plan(
    alice: Browser, bob: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    assert alice.post(f"/plans/{plan_id}/members", {"user": "dave", "role": "viewer"}).status_code == 303
    assert leanplan.plan(plan_id).plan.role_of("dave").value == "viewer"
    with appends_nothing(plan_id):
        assert bob.post(f"/plans/{plan_id}/members", {"user": "dave", "role": "editor"}).status_code == 403
        unknown = alice.post(
            f"/plans/{plan_id}/members", {"form_id": "add-member", "user": "zed", "role": "editor"}
        )
        assert unknown.status_code == 422 and "no user is named" in unknown.text
    assert alice.post(f"/plans/{plan_id}/members/dave/remove").status_code == 303
    assert leanplan.plan(plan_id).plan.role_of("dave") is None


WRITES = [
    ("POST", "/plans/{plan}/milestones"),
    ("POST", "/plans/{plan}/milestones/{milestone}/edit"),
    ("POST", "/plans/{plan}/milestones/{milestone}/reschedule"),
    ("POST", "/plans/{plan}/milestones/{milestone}/complete"),
    ("POST", "/plans/{plan}/milestones/{milestone}/reopen"),
    ("POST", "/plans/{plan}/milestones/{milestone}/cancel"),
    ("POST", "/plans/{plan}/assumptions"),
    ("POST", "/plans/{plan}/assumptions/{assumption}/validate"),
    ("POST", "/plans/{plan}/assumptions/{assumption}/invalidate"),
    ("POST", "/plans/{plan}/review"),
    ("POST", "/plans/{plan}/members"),
    ("POST", "/plans/{plan}/members/carol/remove"),
]


@pytest.fixture
def write_urls(plan_id: UUID, milestone_id: UUID, assumption_id: UUID) -> list[str]:
    return [path.format(plan=plan_id, milestone=milestone_id, assumption=assumption_id) for _, path in WRITES]


FULL_FORM = {
    **milestone_form(),
    "reason": "because",
    "evidence": "seen",
    "statement": "s",
    "held_on": "2031-01-01",
    "user": "dave",
    "role": "viewer",
    "completed_on": "2031-01-01",
}


def test_every_form_needs_the_csrf_token(
    alice: Browser, plan_id: UUID, write_urls: list[str], appends_nothing: Guard
) -> None:
    with appends_nothing(plan_id):
        for url in write_urls:
            answer = alice.post(url, FULL_FORM, csrf=None)
            assert answer.status_code == 400, url
            assert "This form has expired" in answer.text


def test_viewers_cannot_write_and_strangers_cannot_see(
    carol: Browser, dave: Browser, plan_id: UUID, write_urls: list[str], appends_nothing: Guard
) -> None:
    with appends_nothing(plan_id):
        for url in write_urls:
            assert carol.post(url, FULL_FORM).status_code == 403, url
            assert dave.post(url, FULL_FORM).status_code == 404, url


def test_forms_of_signed_out_visitors_go_to_sign_in(
    client: FlaskClient, plan_id: UUID, write_urls: list[str], appends_nothing: Guard
) -> None:
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    with appends_nothing(plan_id):
        for url in write_urls:
            answer = client.post(url, data={**FULL_FORM, "csrf_token": CSRF})
            assert answer.status_code == 303, url
            assert answer.location.startswith("/sign-in?next=/plans/"), url


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("reschedule", {"due": "2031-06-01", "reason": "later"}),
        ("complete", {}),
        ("cancel", {"reason": "dropped"}),
        ("reopen", {"reason": "back"}),
        ("edit", {"title": "Renamed", "owner_name": "Ada", "owner_email": "ada@example.org"}),
    ],
)
def test_a_milestone_is_reached_only_through_its_own_plan(
    alice: Browser,
    leanplan: Leanplan,
    plan_id: UUID,
    milestone_id: UUID,
    appends_nothing: Guard,
    action: str,
    form: dict[str, str],
) -> None:
    other = leanplan.start_plan("Other", actor="alice")
    with appends_nothing(plan_id), appends_nothing(other):
        answer = alice.post(f"/plans/{other}/milestones/{milestone_id}/{action}", form)
    assert answer.status_code == 404
