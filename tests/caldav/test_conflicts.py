"""Both sides changed, and deletions in the calendar: what the policy decides and the history says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from adapters.caldav_content import resource_name
from adapters.caldav_sync import CalendarSync
from domain.values import MilestoneStatus
from tests.caldav.conftest import Linked
from tests.caldav.support import move_all_day


def _entries(linked: Linked, milestone_id: object) -> list:
    return [e for e in linked.app.history(linked.plan_id) if e.milestone_id == milestone_id]


def _move_on_both_sides(linked: Linked, worker: CalendarSync) -> object:
    worker.sync_once()
    milestone = linked.milestones[0]
    linked.app.reschedule(milestone, date(2031, 4, 1), reason="plan moved it", actor="ann")
    linked.calendar.edit(resource_name(str(milestone)), lambda text: move_all_day(text, "20310501"))
    worker.sync_once()
    return milestone


def test_plan_wins_keeps_the_plan_date_and_records_the_conflict(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(1, conflict_policy="plan_wins")
    milestone = _move_on_both_sides(linked, worker)
    assert linked.app.milestone(milestone).due == date(2031, 4, 1)
    conflict = _entries(linked, milestone)[-1]
    assert conflict.type == "CalendarConflictResolved"
    assert conflict.actor == "calendar:Team"
    assert conflict.changes["plan_due"].new == "2031-04-01"
    assert conflict.changes["calendar_due"].new == "2031-05-01"
    assert conflict.changes["winner"].new == "plan"
    body, _ = linked.calendar.get(resource_name(str(milestone)))
    assert b"DTSTART;VALUE=DATE:20310401" in body


def test_calendar_wins_takes_the_calendar_date_as_a_reschedule(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(1, conflict_policy="calendar_wins")
    milestone = _move_on_both_sides(linked, worker)
    assert linked.app.milestone(milestone).due == date(2031, 5, 1)
    conflict, reschedule = _entries(linked, milestone)[-2:]
    assert conflict.type == "CalendarConflictResolved"
    assert conflict.changes["winner"].new == "calendar"
    assert (reschedule.type, reschedule.actor, reschedule.reason) == (
        "MilestoneRescheduled", "calendar:Team", "moved in calendar Team",
    )  # fmt: skip
    body, _ = linked.calendar.get(resource_name(str(milestone)))
    assert b"DTSTART;VALUE=DATE:20310501" in body


def test_a_conflict_is_recorded_once(link: Callable[..., Linked], worker: CalendarSync) -> None:
    linked = link(1, conflict_policy="plan_wins")
    milestone = _move_on_both_sides(linked, worker)
    count = len(_entries(linked, milestone))
    worker.sync_once()
    worker.sync_once()
    assert len(_entries(linked, milestone)) == count


def test_a_move_of_a_done_milestone_cannot_come_back_and_is_overwritten(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(1)
    worker.sync_once()
    milestone = linked.milestones[0]
    linked.app.complete(milestone, completed_on=date(2030, 12, 1), actor="ann")
    worker.sync_once()
    linked.calendar.edit(resource_name(str(milestone)), lambda text: move_all_day(text, "20310601"))
    worker.sync_once()
    assert linked.app.milestone(milestone).status == MilestoneStatus.DONE
    note = _entries(linked, milestone)[-1]
    assert note.type == "CalendarEditOverwritten" and note.changes["fields"].new == ["dtstart"]
    body, _ = linked.calendar.get(resource_name(str(milestone)))
    assert b"DTSTART;VALUE=DATE:20310101" in body


@pytest.mark.parametrize("direction", ["two_way", "push"])
def test_a_deletion_in_the_calendar_never_cancels_it_is_noted_and_undone(
    link: Callable[..., Linked], worker: CalendarSync, direction: str
) -> None:
    linked = link(2, direction=direction)
    worker.sync_once()
    deleted = linked.milestones[1]
    assert linked.calendar.delete(resource_name(str(deleted))) in (200, 204)
    worker.sync_once()
    assert linked.app.milestone(deleted).status == MilestoneStatus.PLANNED
    note = _entries(linked, deleted)[-1]
    assert (note.type, note.actor) == ("CalendarDeletionNoted", "calendar:Team")
    assert "puts it back" in (note.reason or "")
    assert resource_name(str(deleted)) in linked.calendar.names()
    worker.sync_once()
    assert [e.type for e in _entries(linked, deleted)].count("CalendarDeletionNoted") == 1


def test_a_push_link_never_brings_a_move_back(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(1, direction="push")
    worker.sync_once()
    milestone = linked.milestones[0]
    linked.calendar.edit(resource_name(str(milestone)), lambda text: move_all_day(text, "20310301"))
    worker.sync_once()
    assert linked.app.milestone(milestone).due == date(2031, 1, 1)
    body, _ = linked.calendar.get(resource_name(str(milestone)))
    assert b"DTSTART;VALUE=DATE:20310101" in body
