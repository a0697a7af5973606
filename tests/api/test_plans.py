"""Plans: start, list and show (now and as of a past moment), each only to its members."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from domain.application import Leanplan
from tests.api.support import Caller, errors


def test_starting_a_plan_answers_it_and_makes_the_caller_its_owner(
    alice: Caller, leanplan: Leanplan
) -> None:
    response = alice.post(
        "/plans", json={"name": "Launch", "timezone": "Europe/Paris", "currency": "EUR"}
    )

    assert response.status_code == 201
    plan = response.json
    assert (plan["name"], plan["timezone"], plan["currency"]) == ("Launch", "Europe/Paris", "EUR")
    assert plan["members"] == [{"user": "alice", "role": "owner"}]
    assert plan["milestones"] == [] and plan["assumptions"] == [] and plan["reviews"] == []
    assert plan["review_cadence"]["rrule"] == "FREQ=MONTHLY;BYDAY=2FR"
    assert plan["review_cadence"]["start_time"] == "10:00"
    assert len(plan["review_cadence"]["next_reviews"]) == 3
    assert response.headers["ETag"] == f'"{plan["version"]}"'
    assert response.headers["Location"] == f"/api/v1/plans/{plan['id']}"
    [started] = leanplan.history(UUID(plan["id"]))
    assert (started.type, started.actor) == ("PlanStarted", "alice")


def test_a_plan_defaults_to_utc_and_usd(alice: Caller) -> None:
    plan = alice.post("/plans", json={"name": "Defaults"}).json

    assert (plan["timezone"], plan["currency"]) == ("UTC", "USD")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 7}, "name"),
        ({"name": "P", "currency": "XYZ"}, "currency"),
        ({"name": "P", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "P", "colour": "red"}, "colour"),
    ],
)
def test_a_plan_that_cannot_be_started_is_refused_per_field(
    alice: Caller, leanplan: Leanplan, body: dict[str, object], field: str
) -> None:
    assert field in errors(alice.post("/plans", json=body), 422)
    assert leanplan.plan_ids() == []


def test_the_list_holds_only_the_callers_plans_with_their_role(
    alice: Caller, bob: Caller, dave: Caller, plan_id: UUID
) -> None:
    own = bob.post("/plans", json={"name": "Bob's own"}).json

    listed = {p["name"]: p["role"] for p in bob.get("/plans").json["plans"]}

    assert listed == {"Launch": "editor", "Bob's own": "owner"}
    assert [p["id"] for p in alice.get("/plans").json["plans"]] == [str(plan_id)]
    assert dave.get("/plans").json == {"plans": []}
    assert own["members"] == [{"user": "bob", "role": "owner"}]


def test_a_plan_shows_its_milestones_assumptions_members_and_version(
    carol: Caller, plan_id: UUID, milestone_id: UUID, assumption_id: UUID
) -> None:
    response = carol.get(f"/plans/{plan_id}")

    assert response.status_code == 200
    plan = response.json
    [milestone] = plan["milestones"]
    assert milestone["id"] == str(milestone_id)
    assert (milestone["budget"], milestone["currency"]) == ("1500.00", "EUR")
    assert [a["id"] for a in plan["assumptions"]] == [str(assumption_id)]
    assert {m["user"]: m["role"] for m in plan["members"]} == {
        "alice": "owner",
        "bob": "editor",
        "carol": "viewer",
    }
    assert plan["version"] == 5  # started, two members added, one milestone, one assumption
    assert response.headers["ETag"] == '"5"'


def test_a_plan_as_of_a_past_moment_shows_it_as_it_stood(
    alice: Caller, plan_id: UUID, milestone_id: UUID
) -> None:
    before = datetime.now(UTC)
    time.sleep(0.01)
    alice.post(
        f"/plans/{plan_id}/milestones/{milestone_id}/reschedule",
        json={"due": "2031-04-01", "reason": "supplier late"},
    )

    then = alice.get(f"/plans/{plan_id}", query_string={"as_of": before.isoformat()})
    now = alice.get(f"/plans/{plan_id}")

    assert then.status_code == 200
    assert then.json["milestones"][0]["due"] == "2031-03-14"
    assert now.json["milestones"][0]["due"] == "2031-04-01"
    assert then.headers["ETag"] == f'"{now.json["version"] - 1}"'


def test_as_of_without_an_offset_is_utc_and_a_future_one_is_now(
    alice: Caller, plan_id: UUID
) -> None:
    naive = alice.get(f"/plans/{plan_id}", query_string={"as_of": "2000-01-01T00:00:00"})
    future = alice.get(f"/plans/{plan_id}", query_string={"as_of": "2999-01-01T00:00:00Z"})

    assert errors(naive, 404) == {"_request": ["the plan did not exist at that moment"]}
    assert future.status_code == 200 and future.json["version"] == 3


@pytest.mark.parametrize(
    "as_of",
    ["yesterday", "2024-13-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59-14:00"],
)
def test_an_unreadable_as_of_is_refused(alice: Caller, plan_id: UUID, as_of: str) -> None:
    assert "as_of" in errors(alice.get(f"/plans/{plan_id}", query_string={"as_of": as_of}), 422)


def test_a_non_member_cannot_tell_a_plan_from_a_missing_one(dave: Caller, plan_id: UUID) -> None:
    missing = uuid4()

    hidden = errors(dave.get(f"/plans/{plan_id}"), 404)
    absent = errors(dave.get(f"/plans/{missing}"), 404)

    assert hidden == {"_request": [f"no plan {plan_id}"]}
    assert absent == {"_request": [f"no plan {missing}"]}


def test_a_path_that_is_not_a_plan_id_is_not_found(alice: Caller) -> None:
    assert errors(alice.get("/plans/not-a-uuid"), 404)
