"""Push, update and pull against a real Radicale: what lands in the calendar, and what comes back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta

import pytest

from adapters.caldav_content import parse_object, resource_name, review_uid
from adapters.caldav_sync import CalendarSync
from adapters.secrets import SecretUnreadable
from domain.values import MilestoneStatus, Person
from tests.caldav.conftest import OWNER, Linked
from tests.caldav.support import move_all_day


def _fields(linked: Linked, worker: CalendarSync) -> dict[str, dict[str, str]]:
    """What the calendar holds, by UID, as normalised fields."""
    remote = {}
    for name, body in linked.calendar.objects().items():
        parsed = parse_object(body)
        assert name == resource_name(parsed.uid)
        remote[parsed.uid] = parsed.fields
    return remote


def _wanted(linked: Linked, worker: CalendarSync) -> dict[str, dict[str, str]]:
    view = linked.app.plan(linked.plan_id)
    link = view.plan.calendar_link(linked.link_id)
    return {
        uid: want.fields for uid, want in worker.renderer.wanted(view, link, worker.clock()).items()
    }


def test_push_creates_one_object_per_milestone_and_the_review(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(3)
    report = worker.sync_once()
    assert not report.failed
    remote = _fields(linked, worker)
    assert set(remote) >= {str(m) for m in linked.milestones}
    assert remote == _wanted(linked, worker)
    assert remote[str(linked.milestones[0])]["DTSTART"] == "D20310101"
    state = worker.state.link(linked.link_id)
    assert state is not None and state.status == "ok" and state.items_in_sync == len(remote)


def test_update_is_written_with_if_match_and_sequence_from_the_plan(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(2)
    worker.sync_once()
    first = linked.milestones[0]
    linked.app.reschedule(first, date(2031, 3, 1), reason="supplier late", actor="ann")
    linked.app.retitle(first, "Renamed", actor="ann")
    worker.sync_once()
    body, _ = linked.calendar.get(resource_name(str(first)))
    assert b"DTSTART;VALUE=DATE:20310301" in body
    assert b"SEQUENCE:2" in body  # the milestone's own count of changes, not the library's
    assert b"Renamed" in body
    assert _fields(linked, worker) == _wanted(linked, worker)


def test_nothing_is_written_when_nothing_changed(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    link(3)
    worker.sync_once()
    before = dict(worker.counter.by_method)
    worker.sync_once()
    after = worker.counter.by_method
    assert after.get("PUT", 0) == before.get("PUT", 0)
    assert after.get("GET", 0) == before.get("GET", 0)


def test_a_move_in_the_calendar_is_a_reschedule_by_the_calendar(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(2)
    worker.sync_once()
    moved = linked.milestones[1]
    assert linked.calendar.edit(
        resource_name(str(moved)), lambda text: move_all_day(text, "20310210")
    ) in (200, 201, 204)
    worker.sync_once()
    milestone = linked.app.milestone(moved)
    assert milestone.due == date(2031, 2, 10)
    entries = [e for e in linked.app.history(linked.plan_id) if e.milestone_id == moved]
    last = entries[-1]
    assert last.type == "MilestoneRescheduled"
    assert last.actor == "calendar:Team"
    assert last.reason == "moved in calendar Team"
    # The plan's version goes back out (new SEQUENCE, reason in the description), and is final.
    assert _fields(linked, worker) == _wanted(linked, worker)
    worker.sync_once()
    assert [e.type for e in linked.app.history(linked.plan_id) if e.milestone_id == moved] == [
        e.type for e in entries
    ]


def test_an_echo_of_our_own_write_is_no_change(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    """Radicale rewrites what it stores (order, line endings): still not a remote edit."""
    linked = link(2)
    worker.sync_once()
    events_before = len(list(linked.app.history(linked.plan_id)))
    # Touch every object the way a server-side rewrite would: same fields, different bytes.
    for name in linked.calendar.names():
        linked.calendar.edit(
            name,
            lambda text: text.replace("\n", "\r\n").replace(
                "END:VEVENT", "X-SERVER:1\r\nEND:VEVENT", 1
            ),
        )
    worker.sync_once()
    assert len(list(linked.app.history(linked.plan_id))) == events_before


def test_other_remote_edits_are_noted_and_overwritten(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(1)
    worker.sync_once()
    name = resource_name(str(linked.milestones[0]))
    linked.calendar.edit(name, lambda text: text.replace("SUMMARY:Milestone 0", "SUMMARY:Hijacked"))
    worker.sync_once()
    last = list(linked.app.history(linked.plan_id))[-1]
    assert last.type == "CalendarEditOverwritten"
    assert last.actor == "calendar:Team"
    assert last.changes["fields"].new == ["summary"]
    body, _ = linked.calendar.get(name)
    assert b"Hijacked" not in body and b"Milestone 0" in body


def test_a_cancelled_milestone_is_cancelled_then_removed_after_the_grace_period(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(2)
    worker.sync_once()
    gone = linked.milestones[0]
    linked.app.cancel(gone, reason="dropped", actor="ann")
    worker.sync_once()
    body, _ = linked.calendar.get(resource_name(str(gone)))
    assert b"STATUS:CANCELLED" in body
    later = worker.clock() + worker.settings.cancelled_grace
    worker.clock = lambda: later
    worker.sync_once()
    assert resource_name(str(gone)) not in linked.calendar.names()
    assert linked.app.milestone(gone).status == MilestoneStatus.CANCELLED


def test_a_moved_review_occurrence_comes_back_as_review_occurrence_moved(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(1)
    worker.sync_once()
    plan = linked.app.plan(linked.plan_id).plan
    occurrence = plan.cadence.first_date()
    assert occurrence is not None
    uid = review_uid(linked.plan_id)
    moved_to = occurrence + timedelta(days=1)
    override = (
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20300101T000000Z\n"
        f"RECURRENCE-ID;TZID=Europe/Berlin:{occurrence:%Y%m%d}T100000\n"
        f"DTSTART;TZID=Europe/Berlin:{moved_to:%Y%m%d}T143000\nDURATION:PT1H\n"
        "SUMMARY:Plan review: Launch\nEND:VEVENT\n"
    )
    linked.calendar.edit(
        resource_name(uid), lambda text: text.replace("END:VCALENDAR", override + "END:VCALENDAR")
    )
    worker.sync_once()
    plan = linked.app.plan(linked.plan_id).plan
    assert plan.moved_occurrences[occurrence].new_date == moved_to
    assert plan.moved_occurrences[occurrence].new_time == time(14, 30)
    last = list(linked.app.history(linked.plan_id))[-1]
    assert (last.type, last.actor, last.reason) == (
        "ReviewOccurrenceMoved", "calendar:Team", "moved in calendar Team",
    )  # fmt: skip
    assert _fields(linked, worker) == _wanted(linked, worker)


def test_link_filters_work_as_feed_filters(
    link: Callable[..., Linked], worker: CalendarSync
) -> None:
    linked = link(3, owner_email="bo@example.com", kinds=("implementation",))
    bo = Person("Bo", "bo@example.com")
    linked.app.reassign(linked.milestones[0], bo, actor="ann")
    linked.app.reassign(linked.milestones[1], bo, actor="ann")
    worker.sync_once()
    assert set(_fields(linked, worker)) == {str(linked.milestones[0]), str(linked.milestones[1])}
    linked.app.reassign(linked.milestones[1], OWNER, actor="ann")
    worker.sync_once()
    assert set(_fields(linked, worker)) == {str(linked.milestones[0])}


@pytest.mark.parametrize("remove_items", [True, False])
def test_unlinking_stops_syncing_and_may_remove_what_was_pushed(
    link: Callable[..., Linked], worker: CalendarSync, remove_items: bool
) -> None:
    linked = link(2)
    worker.sync_once()
    pushed = set(linked.calendar.names())
    linked.app.unlink_calendar(
        linked.plan_id, linked.link_id, remove_items=remove_items, actor="ann"
    )
    worker.sync_once()
    assert set(linked.calendar.names()) == (set() if remove_items else pushed)
    assert worker.state.link(linked.link_id) is None
    with pytest.raises(SecretUnreadable):
        worker.secrets.get(linked.link_id)
    linked.app.reschedule(linked.milestones[0], date(2031, 9, 9), reason="later", actor="ann")
    worker.sync_once()
    assert set(linked.calendar.names()) == (set() if remove_items else pushed)
    types = [e.type for e in linked.app.history(linked.plan_id)]
    assert types.count("CalendarLinked") == types.count("CalendarUnlinked") == 1
