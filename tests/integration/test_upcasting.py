"""Events carry a class version; a stored version-1 MilestoneAdded is upcast to the current shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from adapters.store import eventsourcing_env
from domain.application import Leanplan
from domain.history import Change
from domain.milestone import Milestone
from domain.values import Kind, MilestoneStatus, Person

BOB = Person("Bob Builder", "bob@example.com")
MILESTONE_ADDED_TOPIC = "domain.milestone:Milestone.MilestoneAdded"


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return eventsourcing_env(database_url)


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[Leanplan]:
    with Leanplan(env=env) as application:
        yield application


@pytest.fixture
def plan_id(app: Leanplan) -> UUID:
    return app.start_plan("Launch", actor="alice")


def version_1_milestone_added(app: Leanplan, plan_id: UUID, milestone_id: UUID) -> StoredEvent:
    """A MilestoneAdded as version 1 wrote it: no description, no assumption_id, no class_version."""
    state: dict[str, Any] = {
        "timestamp": datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        "originator_topic": "domain.milestone:Milestone",
        "actor": "alice",
        "reason": None,
        "plan_id": plan_id,
        "title": "Legacy beta",
        "kind": "implementation",
        "due": date(2024, 6, 1),
        "budget": Decimal("300.00"),
        "owner": BOB,
    }
    return StoredEvent(
        originator_id=milestone_id,
        originator_version=1,
        topic=MILESTONE_ADDED_TOPIC,
        state=app.mapper.transcoder.encode(state),
    )


def store_legacy_milestone(app: Leanplan, plan_id: UUID) -> UUID:
    """Writes the old event straight into the store, and lists the milestone in the plan's register."""
    milestone_id = uuid4()
    app.recorder.insert_events([version_1_milestone_added(app, plan_id, milestone_id)])
    app.save(app._milestone_register(plan_id).trigger_event(milestone_id=milestone_id))
    return milestone_id


def test_a_current_milestone_added_is_stored_with_class_version_2_and_every_field(
    app: Leanplan, plan_id: UUID
) -> None:
    milestone_id = app.add_milestone(
        plan_id, title="Beta", kind="implementation", due=date(2030, 3, 1), budget=5, owner=BOB, actor="alice"
    )
    [stored] = app.recorder.select_events(milestone_id)
    assert stored.topic == MILESTONE_ADDED_TOPIC
    state = json.loads(stored.state)
    assert state["class_version"] == 2
    assert (state["description"], state["assumption_id"]) == ("", None)
    assert state["due"] == {"_type_": "date_iso", "_data_": "2030-03-01"}
    assert state["budget"] == {"_type_": "decimal_str", "_data_": "5.00"}
    assert state["owner"] == {
        "_type_": "person",
        "_data_": {"name": "Bob Builder", "email": "bob@example.com"},
    }
    assert {"originator_id", "originator_version"}.isdisjoint(state)  # kept in their own columns


def test_the_mapper_upcasts_a_version_1_event(app: Leanplan, plan_id: UUID) -> None:
    stored = version_1_milestone_added(app, plan_id, uuid4())
    assert "class_version" not in json.loads(stored.state)
    event = app.mapper.to_domain_event(stored)
    assert isinstance(event, Milestone.MilestoneAdded)
    assert (event.description, event.assumption_id) == ("", None)
    assert (event.title, event.budget, event.owner) == ("Legacy beta", Decimal("300.00"), BOB)


def test_a_stored_version_1_milestone_loads_in_the_current_shape(
    app: Leanplan, env: dict[str, str], plan_id: UUID
) -> None:
    milestone_id = store_legacy_milestone(app, plan_id)
    with Leanplan(env=env) as fresh:
        milestone = fresh.milestone(milestone_id)
        assert (milestone.description, milestone.assumption_id) == ("", None)
        assert (milestone.title, milestone.kind, milestone.status) == (
            "Legacy beta",
            Kind.IMPLEMENTATION,
            MilestoneStatus.PLANNED,
        )
        assert (milestone.due, milestone.original_due, milestone.budget) == (
            date(2024, 6, 1),
            date(2024, 6, 1),
            Decimal("300.00"),
        )
        assert [m.id for m in fresh.plan(plan_id).milestones] == [milestone_id]
        [added] = [e for e in fresh.history(plan_id) if e.type == "MilestoneAdded"]
        assert added.changes["description"] == Change(None, "")
        assert added.assumption_id is None


def test_an_upcast_milestone_takes_new_changes_stored_in_the_current_version(
    app: Leanplan, plan_id: UUID
) -> None:
    milestone_id = store_legacy_milestone(app, plan_id)
    app.describe(milestone_id, "Written after the upgrade", actor="bob")
    app.reschedule(milestone_id, date(2024, 6, 15), reason="late", actor="bob")
    milestone = app.milestone(milestone_id)
    assert (milestone.description, milestone.slip_days, milestone.version) == (
        "Written after the upgrade",
        14,
        3,
    )
    assert [e.originator_version for e in app.events.get(milestone_id)] == [1, 2, 3]
