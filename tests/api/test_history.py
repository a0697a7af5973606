"""The history endpoint: entries in order, filtered and paged, each saying who, what, when, why."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.api.support import Caller, errors, milestone_body


@pytest.fixture
def busy_plan(alice: Caller, bob: Caller, plan_id: UUID, milestone_id: UUID) -> UUID:
    """Alice's plan after bob rescheduled her milestone twice and added one of his own."""
    path = f"/plans/{plan_id}/milestones/{milestone_id}/reschedule"
    bob.post(path, json={"due": "2031-04-01", "reason": "supplier late"})
    bob.post(path, json={"due": "2031-04-15", "reason": "holiday"})
    bob.post(f"/plans/{plan_id}/milestones", json=milestone_body(title="Bob's"))
    return plan_id


def _history(caller: Caller, plan_id: UUID, **query: Any) -> dict[str, Any]:
    response = caller.get(f"/plans/{plan_id}/history", query_string=query)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def test_entries_say_who_changed_what_when_and_why(
    carol: Caller, busy_plan: UUID, milestone_id: UUID
) -> None:
    body = _history(carol, busy_plan)

    assert body["next_cursor"] is None
    types = [e["type"] for e in body["entries"]]
    assert types == [
        "PlanStarted",
        "MemberAdded",
        "MemberAdded",
        "MilestoneAdded",
        "MilestoneRescheduled",
        "MilestoneRescheduled",
        "MilestoneAdded",
    ]
    assert [e["position"] for e in body["entries"]] == list(range(1, 8))
    moved = body["entries"][4]
    assert moved == {
        "position": 5,
        "at": moved["at"],
        "actor": "bob",
        "type": "MilestoneRescheduled",
        "milestone_id": str(milestone_id),
        "assumption_id": None,
        "changes": {"due": {"old": "2031-03-14", "new": "2031-04-01"}},
        "reason": "supplier late",
    }
    assert datetime.fromisoformat(moved["at"]).utcoffset() is not None


def test_filters_pick_by_milestone_actor_and_type(
    alice: Caller, busy_plan: UUID, milestone_id: UUID
) -> None:
    by_milestone = _history(alice, busy_plan, milestone=str(milestone_id))["entries"]
    by_actor = _history(alice, busy_plan, actor="alice")["entries"]
    by_types = _history(alice, busy_plan, type=["MilestoneAdded", "MemberAdded"])["entries"]

    assert [e["type"] for e in by_milestone] == [
        "MilestoneAdded",
        "MilestoneRescheduled",
        "MilestoneRescheduled",
    ]
    assert [e["type"] for e in by_actor] == [
        "PlanStarted",
        "MemberAdded",
        "MemberAdded",
        "MilestoneAdded",
    ]
    assert [e["position"] for e in by_types] == [2, 3, 4, 7]


def test_a_time_range_is_after_since_and_up_to_until(alice: Caller, busy_plan: UUID) -> None:
    entries = _history(alice, busy_plan)["entries"]

    ranged = _history(alice, busy_plan, since=entries[1]["at"], until=entries[4]["at"])["entries"]

    assert [e["position"] for e in ranged] == [3, 4, 5]


def test_pages_follow_the_cursor_to_the_end(alice: Caller, busy_plan: UUID) -> None:
    seen: list[int] = []
    cursor = 0
    pages = 0
    while cursor is not None:
        body = _history(alice, busy_plan, limit=3, cursor=cursor)
        seen.extend(e["position"] for e in body["entries"])
        cursor = body["next_cursor"]
        pages += 1

    assert (seen, pages) == (list(range(1, 8)), 3)


def test_a_filtered_page_counts_only_matching_entries(alice: Caller, busy_plan: UUID) -> None:
    first = _history(alice, busy_plan, actor="bob", limit=2)
    second = _history(alice, busy_plan, actor="bob", limit=2, cursor=first["next_cursor"])

    assert [e["position"] for e in first["entries"]] == [5, 6]
    assert ([e["position"] for e in second["entries"]], second["next_cursor"]) == ([7], None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": -1}, "cursor"),
        ({"cursor": "abc"}, "cursor"),
        ({"milestone": "nope"}, "milestone"),
        ({"since": "then"}, "since"),
        ({"milstone": "typo"}, "milstone"),
        ({"since": "2031-02-01T00:00:00Z", "until": "2031-01-01T00:00:00Z"}, "since"),
    ],
)
def test_an_unreadable_filter_is_refused(
    alice: Caller, plan_id: UUID, query: dict[str, Any], field: str
) -> None:
    assert field in errors(alice.get(f"/plans/{plan_id}/history", query_string=query), 422)


def test_limits_of_one_and_five_hundred_are_allowed(alice: Caller, plan_id: UUID) -> None:
    assert len(_history(alice, plan_id, limit=1)["entries"]) == 1
    assert len(_history(alice, plan_id, limit=500)["entries"]) == 3


def test_a_non_member_and_an_unknown_plan_get_no_history(dave: Caller, plan_id: UUID) -> None:
    errors(dave.get(f"/plans/{plan_id}/history"), 404)
    errors(dave.get(f"/plans/{uuid4()}/history"), 404)
