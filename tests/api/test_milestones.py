"""Milestones: add, edit, reschedule, complete, reopen, cancel; a refusal appends nothing."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import Leanplan
from tests.api.support import OWNER, Caller, errors, milestone_body

Unchanged = Callable[[UUID], AbstractContextManager[None]]


def _path(plan_id: UUID, milestone_id: UUID, action: str = "") -> str:
    return f"/plans/{plan_id}/milestones/{milestone_id}" + (f"/{action}" if action else "")


def _last(leanplan: Leanplan, plan_id: UUID) -> Any:
    return list(leanplan.history(plan_id))[-1]


def test_an_editor_adds_a_milestone_and_is_its_actor(
    bob: Caller, plan_id: UUID, leanplan: Leanplan
) -> None:
    response = bob.post(
        f"/plans/{plan_id}/milestones", json=milestone_body(description="First paying team")
    )

    assert response.status_code == 201
    milestone = response.json
    assert milestone == {
        "id": milestone["id"],
        "title": "Pilot customer signed",
        "description": "First paying team",
        "kind": "implementation",
        "due": "2031-03-14",
        "original_due": "2031-03-14",
        "budget": "1500.00",
        "actual_cost": None,
        "currency": "EUR",
        "owner": OWNER,
        "status": "planned",
        "completed_on": None,
        "assumption_id": None,
        "reschedule_count": 0,
        "slip_days": 0,
    }
    entry = _last(leanplan, plan_id)
    assert (entry.type, entry.actor, str(entry.milestone_id)) == (
        "MilestoneAdded",
        "bob",
        milestone["id"],
    )


def test_a_budget_may_be_a_json_number_and_reads_back_as_a_string(
    alice: Caller, plan_id: UUID
) -> None:
    milestone = alice.post(f"/plans/{plan_id}/milestones", json=milestone_body(budget=1250.5)).json

    assert milestone["budget"] == "1250.50"


def test_a_milestone_can_test_an_assumption(
    alice: Caller, plan_id: UUID, assumption_id: UUID
) -> None:
    body = milestone_body(kind="assumption", assumption_id=str(assumption_id))

    milestone = alice.post(f"/plans/{plan_id}/milestones", json=body).json

    assert milestone["assumption_id"] == str(assumption_id)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 10_001}, "description"),
        ({"kind": "wish"}, "kind"),
        ({"due": "2031-02-30"}, "due"),
        ({"budget": "-1"}, "budget"),
        ({"budget": "10.001"}, "budget"),
        ({"budget": "NaN"}, "budget"),
        ({"budget": "lots"}, "budget"),
        ({"budget": True}, "budget"),
        ({"owner": {"name": "Ada", "email": "not-an-email"}}, "owner.email"),
        ({"owner": {"name": " ", "email": "ada@example.org"}}, "owner.name"),
        ({"owner": "Ada"}, "owner"),
        ({"assumption_id": str(uuid4())}, "assumption_id"),
        ({"assumption_id": "nope"}, "assumption_id"),
        ({"title": "\ud800"}, "title"),
    ],
)
def test_a_milestone_that_breaks_a_rule_is_refused_naming_the_field(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged, changes: dict[str, Any], field: str
) -> None:
    with appends_nothing(plan_id):
        assert field in errors(
            alice.post(f"/plans/{plan_id}/milestones", json=milestone_body(**changes)), 422
        )


def test_missing_fields_are_each_named(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        found = errors(alice.post(f"/plans/{plan_id}/milestones", json={}), 422)

    assert set(found) == {"title", "kind", "due", "budget", "owner"}


def test_an_edit_changes_every_field_given_with_its_reason(
    alice: Caller, plan_id: UUID, milestone_id: UUID, leanplan: Leanplan
) -> None:
    new_owner = {"name": "Bea", "email": "bea@example.org"}
    body = {
        "title": "Two pilots",
        "description": "d",
        "budget": "2000",
        "owner": new_owner,
        "reason": "scope",
    }

    response = alice.patch(_path(plan_id, milestone_id), json=body)

    assert response.status_code == 200
    assert (response.json["title"], response.json["budget"], response.json["owner"]) == (
        "Two pilots",
        "2000.00",
        new_owner,
    )
    changes = list(leanplan.history(plan_id))[-4:]
    assert [c.type for c in changes] == [
        "MilestoneRetitled",
        "MilestoneDescribed",
        "MilestoneBudgetChanged",
        "MilestoneReassigned",
    ]
    assert {(c.actor, c.reason) for c in changes} == {("alice", "scope")}
    assert changes[2].changes["budget"].old == "1500.00"


def test_an_edit_is_all_or_nothing(
    alice: Caller, plan_id: UUID, milestone_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        found = errors(
            alice.patch(_path(plan_id, milestone_id), json={"title": "New", "budget": "9"}), 422
        )

    assert found == {"reason": ["a reason is required for this change"]}
    assert alice.get(f"/plans/{plan_id}").json["milestones"][0]["title"] == "Pilot customer signed"


def test_an_empty_edit_changes_nothing(
    alice: Caller, plan_id: UUID, milestone_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        assert alice.patch(_path(plan_id, milestone_id), json={}).status_code == 200


def test_rescheduling_moves_the_due_date_and_keeps_the_original(
    bob: Caller, plan_id: UUID, milestone_id: UUID, leanplan: Leanplan
) -> None:
    response = bob.post(
        _path(plan_id, milestone_id, "reschedule"),
        json={"due": "2031-04-01", "reason": "supplier late"},
    )

    assert response.status_code == 200
    milestone = response.json
    assert (milestone["due"], milestone["original_due"]) == ("2031-04-01", "2031-03-14")
    assert (milestone["reschedule_count"], milestone["slip_days"]) == (1, 18)
    entry = _last(leanplan, plan_id)
    assert (entry.type, entry.actor, entry.reason) == (
        "MilestoneRescheduled",
        "bob",
        "supplier late",
    )
    assert (entry.changes["due"].old, entry.changes["due"].new) == ("2031-03-14", "2031-04-01")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"due": "2031-03-14", "reason": "same"}, 409, "_request"),
        ({"due": "2031-04-01"}, 422, "reason"),
        ({"due": "2031-04-01", "reason": "  "}, 422, "reason"),
        ({"reason": "why"}, 422, "due"),
        ({"due": 20310401, "reason": "why"}, 422, "due"),
    ],
)
def test_a_reschedule_that_breaks_a_rule_is_refused(
    alice: Caller,
    plan_id: UUID,
    milestone_id: UUID,
    appends_nothing: Unchanged,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    with appends_nothing(plan_id):
        assert field in errors(
            alice.post(_path(plan_id, milestone_id, "reschedule"), json=body), status
        )


def test_completing_records_the_day_and_the_actual_cost(
    alice: Caller, plan_id: UUID, milestone_id: UUID
) -> None:
    body = {"completed_on": "2031-03-10", "actual_cost": "1400.5", "note": "signed"}

    milestone = alice.post(_path(plan_id, milestone_id, "complete"), json=body).json

    assert (milestone["status"], milestone["completed_on"], milestone["actual_cost"]) == (
        "done",
        "2031-03-10",
        "1400.50",
    )


def test_completing_without_a_body_means_today(
    alice: Caller, plan_id: UUID, milestone_id: UUID
) -> None:
    response = alice.post(_path(plan_id, milestone_id, "complete"))

    assert response.status_code == 200
    assert response.json["status"] == "done" and response.json["completed_on"] is not None


def test_a_done_milestone_is_neither_completed_again_nor_rescheduled(
    alice: Caller, plan_id: UUID, milestone_id: UUID, appends_nothing: Unchanged
) -> None:
    alice.post(_path(plan_id, milestone_id, "complete"), json={})

    with appends_nothing(plan_id):
        errors(alice.post(_path(plan_id, milestone_id, "complete"), json={}), 409)
        errors(
            alice.post(
                _path(plan_id, milestone_id, "reschedule"),
                json={"due": "2032-01-01", "reason": "r"},
            ),
            409,
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"actual_cost": "-5"}, "actual_cost"),
        ({"completed_on": "soon"}, "completed_on"),
        ({"note": 1}, "note"),
    ],
)
def test_a_completion_that_breaks_a_rule_is_refused(
    alice: Caller,
    plan_id: UUID,
    milestone_id: UUID,
    appends_nothing: Unchanged,
    body: dict[str, Any],
    field: str,
) -> None:
    with appends_nothing(plan_id):
        assert field in errors(alice.post(_path(plan_id, milestone_id, "complete"), json=body), 422)


def test_reopening_a_done_milestone_plans_it_again(
    alice: Caller, plan_id: UUID, milestone_id: UUID
) -> None:
    alice.post(_path(plan_id, milestone_id, "complete"), json={"actual_cost": "10"})

    milestone = alice.post(
        _path(plan_id, milestone_id, "reopen"), json={"reason": "customer backed out"}
    ).json

    assert (milestone["status"], milestone["completed_on"], milestone["actual_cost"]) == (
        "planned",
        None,
        None,
    )


def test_a_planned_milestone_cannot_be_reopened(
    alice: Caller, plan_id: UUID, milestone_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        errors(alice.post(_path(plan_id, milestone_id, "reopen"), json={"reason": "why"}), 409)
        assert "reason" in errors(alice.post(_path(plan_id, milestone_id, "reopen"), json={}), 422)


def test_a_cancelled_milestone_cannot_be_completed_or_cancelled_again(
    alice: Caller, plan_id: UUID, milestone_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        assert "reason" in errors(
            alice.post(_path(plan_id, milestone_id, "cancel"), json={"reason": ""}), 422
        )

    cancelled = alice.post(_path(plan_id, milestone_id, "cancel"), json={"reason": "dropped"})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"

    with appends_nothing(plan_id):
        errors(alice.post(_path(plan_id, milestone_id, "complete"), json={}), 409)
        errors(alice.post(_path(plan_id, milestone_id, "cancel"), json={"reason": "again"}), 409)
        errors(alice.patch(_path(plan_id, milestone_id), json={"title": "Renamed"}), 409)


WRITES = [
    ("PATCH", "", {"title": "New"}),
    ("POST", "reschedule", {"due": "2031-04-01", "reason": "r"}),
    ("POST", "complete", {}),
    ("POST", "reopen", {"reason": "r"}),
    ("POST", "cancel", {"reason": "r"}),
]


@pytest.mark.parametrize(("method", "action", "body"), WRITES)
def test_a_viewer_may_not_change_a_milestone(
    carol: Caller,
    plan_id: UUID,
    milestone_id: UUID,
    appends_nothing: Unchanged,
    method: str,
    action: str,
    body: dict[str, Any],
) -> None:
    with appends_nothing(plan_id):
        errors(carol.request(method, _path(plan_id, milestone_id, action), json=body), 403)
        errors(carol.post(f"/plans/{plan_id}/milestones", json=milestone_body()), 403)


@pytest.mark.parametrize(("method", "action", "body"), WRITES)
def test_a_non_member_is_told_the_milestone_does_not_exist(
    dave: Caller,
    plan_id: UUID,
    milestone_id: UUID,
    appends_nothing: Unchanged,
    method: str,
    action: str,
    body: dict[str, Any],
) -> None:
    with appends_nothing(plan_id):
        errors(dave.request(method, _path(plan_id, milestone_id, action), json=body), 404)
        errors(dave.post(f"/plans/{plan_id}/milestones", json=milestone_body()), 404)


@pytest.mark.parametrize(("method", "action", "body"), WRITES)
def test_an_unknown_milestone_is_not_found(
    alice: Caller,
    plan_id: UUID,
    appends_nothing: Unchanged,
    method: str,
    action: str,
    body: dict[str, Any],
) -> None:
    with appends_nothing(plan_id):
        errors(alice.request(method, _path(plan_id, uuid4(), action), json=body), 404)


@pytest.mark.parametrize(("method", "action", "body"), WRITES)
def test_a_milestone_is_reached_only_through_its_own_plan(
    alice: Caller,
    plan_id: UUID,
    milestone_id: UUID,
    appends_nothing: Unchanged,
    method: str,
    action: str,
    body: dict[str, Any],
) -> None:
    other_plan = UUID(alice.post("/plans", json={"name": "Other"}).json["id"])

    with appends_nothing(plan_id), appends_nothing(other_plan):
        found = errors(
            alice.request(method, _path(other_plan, milestone_id, action), json=body), 404
        )

    assert found == {"_request": [f"no milestone {milestone_id} in this plan"]}
