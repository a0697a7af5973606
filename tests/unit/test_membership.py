"""Plan membership: the creator owns the plan, the owner's role is fixed, access follows roles."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest

from domain.application import Leanplan
from domain.errors import (
    AccessDenied,
    InvalidInput,
    InvalidRole,
    MemberNotFound,
    OwnerIsFixed,
    PlanNotFound,
)
from domain.plan import Role


@pytest.fixture
def app() -> Iterator[Leanplan]:
    application = Leanplan(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    for name in ("alice", "Bob", "carol"):
        application.register_user(
            name, email=f"{name.lower()}@example.org", token_hash="h", actor="test"
        )
    yield application
    application.close()


@pytest.fixture
def plan_id(app: Leanplan) -> UUID:
    return app.start_plan("Launch", actor="alice")


def stored(app: Leanplan) -> int:
    return app.recorder.max_notification_id() or 0


def test_the_creator_owns_the_plan(app: Leanplan, plan_id: UUID) -> None:
    assert app.authorize(plan_id, "alice", Role.OWNER).members == {"alice": Role.OWNER}


def test_roles_include_the_ones_below_them() -> None:
    assert Role.OWNER.includes(Role.EDITOR) and Role.EDITOR.includes(Role.VIEWER)
    assert not Role.VIEWER.includes(Role.EDITOR) and not Role.EDITOR.includes(Role.OWNER)


def test_members_are_added_changed_and_removed_by_name_as_users_spell_it(
    app: Leanplan, plan_id: UUID
) -> None:
    app.add_member(plan_id, "bob", "viewer", actor="alice")
    app.add_member(plan_id, "BOB", "editor", actor="alice")
    assert app.authorize(plan_id, "Bob", Role.EDITOR).role_of("Bob") is Role.EDITOR

    app.remove_member(plan_id, "bob", actor="alice")

    types = [entry.type for entry in app.history(plan_id)]
    assert types == ["PlanStarted", "MemberAdded", "MemberRoleChanged", "MemberRemoved"]
    with pytest.raises(PlanNotFound):
        app.authorize(plan_id, "Bob")


def test_membership_is_part_of_the_plan_as_of_any_moment(app: Leanplan, plan_id: UUID) -> None:
    app.add_member(plan_id, "carol", "viewer", actor="alice")

    assert app.plan_as_of(plan_id, version=1).plan.members == {"alice": Role.OWNER}
    assert app.plan_as_of(plan_id).plan.role_of("carol") is Role.VIEWER


def test_access_below_the_role_needed_is_denied_and_a_stranger_sees_no_plan(
    app: Leanplan, plan_id: UUID
) -> None:
    app.add_member(plan_id, "carol", "viewer", actor="alice")

    with pytest.raises(AccessDenied):
        app.authorize(plan_id, "carol", Role.EDITOR)
    with pytest.raises(PlanNotFound, match=str(plan_id)):
        app.authorize(plan_id, "Bob")
    with pytest.raises(PlanNotFound):
        app.authorize(uuid4(), "alice")
    assert [p.id for p in app.plans_of("carol")] == [plan_id] and app.plans_of("Bob") == []


@pytest.mark.parametrize(
    ("user", "role", "error"),
    [
        ("Bob", "owner", InvalidRole),
        ("Bob", "admin", InvalidRole),
        ("nobody", "viewer", InvalidInput),
        ("alice", "viewer", OwnerIsFixed),
    ],
)
def test_a_membership_that_breaks_a_rule_appends_nothing(
    app: Leanplan, plan_id: UUID, user: str, role: str, error: type[Exception]
) -> None:
    before = stored(app)

    with pytest.raises(error):
        app.add_member(plan_id, user, role, actor="alice")

    assert stored(app) == before


@pytest.mark.parametrize(
    ("user", "error"), [("alice", OwnerIsFixed), ("Bob", MemberNotFound), ("x", MemberNotFound)]
)
def test_only_a_member_other_than_the_owner_can_be_removed(
    app: Leanplan, plan_id: UUID, user: str, error: type[Exception]
) -> None:
    before = stored(app)

    with pytest.raises(error):
        app.remove_member(plan_id, user, actor="alice")

    assert stored(app) == before


def test_adding_a_member_in_their_current_role_records_nothing(
    app: Leanplan, plan_id: UUID
) -> None:
    app.add_member(plan_id, "carol", "viewer", actor="alice")
    before = stored(app)

    app.add_member(plan_id, "carol", "viewer", actor="alice")

    assert stored(app) == before


def test_a_user_error_names_the_user_field(app: Leanplan, plan_id: UUID) -> None:
    with pytest.raises(InvalidInput) as raised:
        app.add_member(plan_id, "nobody", "viewer", actor="alice")

    assert raised.value.field == "user"
