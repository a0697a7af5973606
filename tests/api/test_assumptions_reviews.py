"""Assumptions, the review cadence, reviews held and the review report."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import Leanplan
from tests.api.support import Caller, errors, milestone_body

Unchanged = Callable[[UUID], AbstractContextManager[None]]


def test_an_assumption_is_recorded_untested(bob: Caller, plan_id: UUID) -> None:
    body = {"statement": "Teams pay", "test": "interviews", "success_criterion": "7 of 10 say yes"}

    response = bob.post(f"/plans/{plan_id}/assumptions", json=body)

    assert response.status_code == 201
    assert response.json == {
        "id": response.json["id"],
        **body,
        "status": "untested",
        "evidence": "",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "statement"), ({"statement": " "}, "statement"), ({"statement": ["a"]}, "statement")],
)
def test_an_assumption_without_a_statement_is_refused(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged, body: dict[str, Any], field: str
) -> None:
    with appends_nothing(plan_id):
        assert field in errors(alice.post(f"/plans/{plan_id}/assumptions", json=body), 422)


@pytest.mark.parametrize("verdict", ["validate", "invalidate"])
def test_an_assumption_is_resolved_once_with_evidence(
    alice: Caller, plan_id: UUID, assumption_id: UUID, appends_nothing: Unchanged, verdict: str
) -> None:
    path = f"/plans/{plan_id}/assumptions/{assumption_id}/{verdict}"
    with appends_nothing(plan_id):
        assert "evidence" in errors(alice.post(path, json={"evidence": ""}), 422)
        assert "evidence" in errors(alice.post(path, json={}), 422)

    resolved = alice.post(path, json={"evidence": "8 of 10 said yes"})

    assert resolved.status_code == 200
    assert (resolved.json["status"], resolved.json["evidence"]) == (
        f"{verdict}d",
        "8 of 10 said yes",
    )
    with appends_nothing(plan_id):
        errors(alice.post(path, json={"evidence": "again"}), 409)


def test_an_unknown_assumption_is_not_found(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        errors(
            alice.post(f"/plans/{plan_id}/assumptions/{uuid4()}/validate", json={"evidence": "e"}),
            404,
        )


def test_a_viewer_may_not_touch_assumptions(
    carol: Caller, plan_id: UUID, assumption_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        errors(carol.post(f"/plans/{plan_id}/assumptions", json={"statement": "s"}), 403)
        errors(
            carol.post(
                f"/plans/{plan_id}/assumptions/{assumption_id}/invalidate", json={"evidence": "e"}
            ),
            403,
        )


def test_the_review_cadence_is_set_and_answers_the_next_reviews(
    alice: Caller, plan_id: UUID, leanplan: Leanplan
) -> None:
    body = {"rrule": "FREQ=WEEKLY;BYDAY=MO", "start_time": "09:30", "duration_minutes": 45}

    response = alice.put(f"/plans/{plan_id}/review-cadence", json=body)

    assert response.status_code == 200
    cadence = response.json
    assert {k: cadence[k] for k in body} == body
    assert len(cadence["next_reviews"]) == 3
    assert {r["start_time"] for r in cadence["next_reviews"]} == {"09:30"}
    assert alice.get(f"/plans/{plan_id}").json["review_cadence"] == cadence
    assert list(leanplan.history(plan_id))[-1].type == "ReviewCadenceSet"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"rrule": "RRULE:FREQ=WEEKLY"}, "rrule"),
        ({"start_time": "25:00"}, "start_time"),
        ({"start_time": "09:30:15"}, "start_time"),
        ({"start_time": "09:30+02:00"}, "start_time"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": "60"}, "duration_minutes"),
        ({"duration_minutes": 1441}, "duration_minutes"),
    ],
)
def test_a_cadence_that_breaks_a_rule_is_refused(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged, changes: dict[str, Any], field: str
) -> None:
    body = {
        "rrule": "FREQ=WEEKLY;BYDAY=MO",
        "start_time": "09:30",
        "duration_minutes": 45,
    } | changes

    with appends_nothing(plan_id):
        assert field in errors(alice.put(f"/plans/{plan_id}/review-cadence", json=body), 422)


def test_a_review_held_is_recorded_with_its_decisions(
    alice: Caller, plan_id: UUID, leanplan: Leanplan
) -> None:
    body = {"held_on": "2031-03-14", "notes": "Pilot slipped", "decisions": ["hire", " ", "raise"]}

    response = alice.post(f"/plans/{plan_id}/reviews", json=body)

    assert response.status_code == 201
    assert response.json == {
        "held_on": "2031-03-14",
        "notes": "Pilot slipped",
        "decisions": ["hire", "raise"],
        "actor": "alice",
    }
    assert alice.get(f"/plans/{plan_id}").json["reviews"] == [response.json]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"notes": "n"}, "held_on"),
        ({"held_on": "2031-03-14"}, "notes"),
        ({"held_on": "2031-03-14", "notes": "n", "decisions": "hire"}, "decisions"),
        ({"held_on": "2031-03-14", "notes": "n", "decisions": [1]}, "decisions.0"),
        ({"held_on": "2031-03-14", "notes": "x" * 10_001}, "notes"),
    ],
)
def test_a_review_that_breaks_a_rule_is_refused(
    bob: Caller, plan_id: UUID, appends_nothing: Unchanged, body: dict[str, Any], field: str
) -> None:
    with appends_nothing(plan_id):
        assert field in errors(bob.post(f"/plans/{plan_id}/reviews", json=body), 422)


def test_the_report_says_what_changed_since_the_last_review(
    alice: Caller, plan_id: UUID, milestone_id: UUID, assumption_id: UUID
) -> None:
    alice.post(f"/plans/{plan_id}/reviews", json={"held_on": "2031-03-01", "notes": "kick-off"})
    path = f"/plans/{plan_id}/milestones/{milestone_id}"
    alice.post(f"{path}/reschedule", json={"due": "2031-03-24", "reason": "late contract"})
    alice.post(f"{path}/complete", json={"actual_cost": "1600"})
    alice.post(f"/plans/{plan_id}/assumptions/{assumption_id}/validate", json={"evidence": "yes"})
    added = alice.post(
        f"/plans/{plan_id}/milestones", json=milestone_body(title="Second", budget="100")
    ).json

    report = alice.get(f"/plans/{plan_id}/changes")

    assert report.status_code == 200
    body = report.json
    assert [m["id"] for m in body["added"]] == [added["id"]]
    assert [m["id"] for m in body["completed"]] == [str(milestone_id)]
    assert body["cancelled"] == []
    [slip] = body["rescheduled"]
    assert (slip["days"], slip["reasons"], slip["old_due"]) == (10, ["late contract"], "2031-03-14")
    assert body["planned_budget"] == {"before": "1500.00", "after": "1600.00", "delta": "100.00"}
    assert body["actual_cost"] == {"before": "0.00", "after": "1600.00", "delta": "1600.00"}
    assert [(a["id"], a["status"]) for a in body["assumptions_resolved"]] == [
        (str(assumption_id), "validated")
    ]
    assert body["currency"] == "EUR"


def test_the_report_covers_any_span_asked_for(
    alice: Caller, plan_id: UUID, milestone_id: UUID
) -> None:
    everything = alice.get(
        f"/plans/{plan_id}/changes", query_string={"since": "2000-01-01T00:00:00Z"}
    )
    nothing = alice.get(f"/plans/{plan_id}/changes", query_string={"since": "2999-01-01T00:00:00Z"})

    assert [m["id"] for m in everything.json["added"]] == [str(milestone_id)]
    assert nothing.json["added"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "2031-02-01T00:00:00Z", "until": "2031-01-01T00:00:00Z"}, "since"),
        ({"since": "last review"}, "since"),
        ({"until": "9999-12-31T23:00:00-12:00"}, "until"),
        ({"snce": "2031-01-01T00:00:00Z"}, "snce"),
    ],
)
def test_an_unreadable_span_is_refused(
    alice: Caller, plan_id: UUID, query: dict[str, str], field: str
) -> None:
    assert field in errors(alice.get(f"/plans/{plan_id}/changes", query_string=query), 422)


def test_a_non_member_gets_no_report(dave: Caller, plan_id: UUID) -> None:
    errors(dave.get(f"/plans/{plan_id}/changes"), 404)
