"""Milestone commands given a plan act only on that plan's milestones, and hand back what they saved:
the web layer relies on both to answer a write with one load of the milestone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from uuid import UUID

import pytest

from domain.application import Leanplan
from domain.errors import MilestoneNotFound
from domain.milestone import Milestone
from domain.values import Person

OWNER = Person("Bob Builder", "bob@example.com")
DUE = date(2030, 3, 1)

Command = Callable[[Leanplan, UUID, UUID], Milestone]

COMMANDS: dict[str, Command] = {
    "edit_milestone": lambda app, m, p: app.edit_milestone(m, title="Public beta", actor="a", plan_id=p),
    "reschedule": lambda app, m, p: app.reschedule(m, date(2030, 4, 1), reason="r", actor="a", plan_id=p),
    "reassign": lambda app, m, p: app.reassign(m, Person("Cy", "cy@example.com"), actor="a", plan_id=p),
    "change_budget": lambda app, m, p: app.change_budget(m, "5", reason="r", actor="a", plan_id=p),
    "retitle": lambda app, m, p: app.retitle(m, "Public beta", actor="a", plan_id=p),
    "describe": lambda app, m, p: app.describe(m, "Two sites", actor="a", plan_id=p),
    "complete": lambda app, m, p: app.complete(m, completed_on=DUE, actor="a", plan_id=p),
    "cancel": lambda app, m, p: app.cancel(m, reason="r", actor="a", plan_id=p),
}


@pytest.fixture
def app() -> Iterator[Leanplan]:
    with Leanplan() as application:
        yield application


def _milestone(app: Leanplan, plan_id: UUID) -> UUID:
    return app.add_milestone(
        plan_id, title="Private beta", kind="implementation", due=DUE, budget="1000", owner=OWNER, actor="a"
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_given_another_plan_finds_no_milestone_and_appends_nothing(
    app: Leanplan, name: str
) -> None:
    mine, other = app.start_plan("Mine", actor="a"), app.start_plan("Other", actor="a")
    milestone_id = _milestone(app, mine)
    before = app.recorder.max_notification_id()
    with pytest.raises(MilestoneNotFound, match="in this plan"):
        COMMANDS[name](app, milestone_id, other)
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_given_its_own_plan_runs_and_returns_the_milestone_as_saved(
    app: Leanplan, name: str
) -> None:
    plan_id = app.start_plan("Mine", actor="a")
    milestone_id = _milestone(app, plan_id)
    saved = COMMANDS[name](app, milestone_id, plan_id)
    stored = app.milestone(milestone_id)
    assert saved is not stored
    assert saved.version == stored.version == 2
    assert vars(saved) == vars(stored)


def test_reopen_given_another_plan_finds_no_milestone(app: Leanplan) -> None:
    mine, other = app.start_plan("Mine", actor="a"), app.start_plan("Other", actor="a")
    milestone_id = _milestone(app, mine)
    app.cancel(milestone_id, reason="r", actor="a")
    with pytest.raises(MilestoneNotFound):
        app.reopen(milestone_id, reason="r", actor="a", plan_id=other)
    app.reopen(milestone_id, reason="back on", actor="a", plan_id=mine)
    assert app.milestone(milestone_id).status.value == "planned"
