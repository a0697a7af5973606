"""Membership: the owner adds and removes editors and viewers; every change is in the history."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from uuid import UUID

import pytest

from domain.application import Leanplan
from tests.api.support import Caller, errors, milestone_body

Unchanged = Callable[[UUID], AbstractContextManager[None]]


def test_an_added_member_can_act_as_their_role(
    alice: Caller, dave: Caller, plan_id: UUID, leanplan: Leanplan
) -> None:
    added = alice.post(f"/plans/{plan_id}/members", json={"user": "DAVE", "role": "editor"})

    assert added.status_code == 201
    assert added.json == {"user": "dave", "role": "editor"}
    assert dave.post(f"/plans/{plan_id}/milestones", json=milestone_body()).status_code == 201
    entry = [e for e in leanplan.history(plan_id) if e.type == "MemberAdded"][-1]
    assert entry.actor == "alice"
    assert {k: (c.old, c.new) for k, c in entry.changes.items()} == {
        "member": (None, "dave"),
        "role": (None, "editor"),
    }


def test_adding_a_member_again_changes_their_role(
    alice: Caller, carol: Caller, plan_id: UUID, leanplan: Leanplan
) -> None:
    changed = alice.post(f"/plans/{plan_id}/members", json={"user": "carol", "role": "editor"})

    assert changed.status_code == 200
    assert changed.json == {"user": "carol", "role": "editor"}
    entry = list(leanplan.history(plan_id))[-1]
    assert (entry.type, entry.changes["role"].old, entry.changes["role"].new) == (
        "MemberRoleChanged",
        "viewer",
        "editor",
    )
    assert carol.post(f"/plans/{plan_id}/assumptions", json={"statement": "s"}).status_code == 201


def test_adding_a_member_in_the_role_they_have_changes_nothing(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        same = alice.post(f"/plans/{plan_id}/members", json={"user": "bob", "role": "editor"})

    assert (same.status_code, same.json) == (200, {"user": "bob", "role": "editor"})


def test_a_removed_member_loses_the_plan(
    alice: Caller, bob: Caller, plan_id: UUID, leanplan: Leanplan
) -> None:
    removed = alice.delete(f"/plans/{plan_id}/members/bob")

    assert (removed.status_code, removed.get_data()) == (204, b"")
    errors(bob.get(f"/plans/{plan_id}"), 404)
    assert bob.get("/plans").json == {"plans": []}
    entry = list(leanplan.history(plan_id))[-1]
    assert (entry.type, entry.actor) == ("MemberRemoved", "alice")
    assert (entry.changes["role"].old, entry.changes["role"].new) == ("editor", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "nobody", "role": "viewer"}, "user"),
        ({"user": "dave", "role": "owner"}, "role"),
        ({"user": "dave", "role": "admin"}, "role"),
        ({"user": "dave"}, "role"),
        ({"role": "viewer"}, "user"),
    ],
)
def test_a_membership_that_breaks_a_rule_is_refused(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged, body: dict[str, str], field: str
) -> None:
    with appends_nothing(plan_id):
        assert field in errors(alice.post(f"/plans/{plan_id}/members", json=body), 422)


def test_the_owner_stays_the_owner(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        errors(
            alice.post(f"/plans/{plan_id}/members", json={"user": "alice", "role": "viewer"}), 409
        )
        errors(alice.delete(f"/plans/{plan_id}/members/alice"), 409)


def test_removing_someone_who_is_not_a_member_is_not_found(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        errors(alice.delete(f"/plans/{plan_id}/members/dave"), 404)
        errors(alice.delete(f"/plans/{plan_id}/members/nobody"), 404)


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_only_the_owner_manages_members(
    who: str, request: pytest.FixtureRequest, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    caller: Caller = request.getfixturevalue(who)

    with appends_nothing(plan_id):
        errors(
            caller.post(f"/plans/{plan_id}/members", json={"user": "dave", "role": "viewer"}), 403
        )
        errors(caller.delete(f"/plans/{plan_id}/members/carol"), 403)


def test_a_non_member_cannot_make_themselves_a_member(
    dave: Caller, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    with appends_nothing(plan_id):
        errors(dave.post(f"/plans/{plan_id}/members", json={"user": "dave", "role": "editor"}), 404)
        errors(dave.delete(f"/plans/{plan_id}/members/bob"), 404)
