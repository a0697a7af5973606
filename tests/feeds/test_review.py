"""The review series: one recurring event in the plan's zone, with its moves, skips and notes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from adapters.ical import FeedRenderer
from domain.application import Leanplan
from domain.values import Person

Parse = Callable[[bytes], icalendar.Calendar]
YEAR = (date(2026, 1, 1), date(2027, 1, 1))


def feed(renderer: FeedRenderer, app: Leanplan, plan_id: UUID, parse: Parse) -> icalendar.Calendar:
    return parse(renderer.render(app.plan(plan_id), now=datetime.now(UTC)))


def meetings(calendar: icalendar.Calendar) -> list[icalendar.Event]:
    found = recurring_ical_events.of(calendar).between(*YEAR)
    return sorted(
        (event for event in found if isinstance(event["DTSTART"].dt, datetime)),
        key=lambda event: event["DTSTART"].dt,
    )


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_the_default_cadence_is_the_second_friday_at_ten_across_dst(
    app: Leanplan, renderer: FeedRenderer, parse: Parse, zone: str
) -> None:
    plan_id = app.start_plan("Acme", actor="ann", timezone=zone)
    calendar = feed(renderer, app, plan_id, parse)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [zone]

    found = meetings(calendar)
    starts = [event["DTSTART"].dt for event in found]
    assert len(starts) == 12
    assert [start.month for start in starts] == list(range(1, 13))
    local = ZoneInfo(zone)
    for start, event in zip(starts, found, strict=True):
        assert start.weekday() == 4 and 8 <= start.day <= 14  # the second Friday
        assert (start.hour, start.minute) == (10, 0)
        wall = start.astimezone(local)
        assert (wall.hour, wall.minute) == (10, 0), "10:00 local, whatever the season"
        assert event["DTEND"].dt - start == timedelta(hours=1)
    utc_hours = {start.astimezone(UTC).hour for start in starts}
    assert len(utc_hours) == 2, "the series crosses a DST change in both directions"


def test_moved_and_skipped_occurrences(app: Leanplan, renderer: FeedRenderer, parse: Parse) -> None:
    plan_id = app.start_plan("Acme", actor="ann", timezone="Europe/Berlin")
    app.move_review_occurrence(
        plan_id, date(2026, 3, 13), new_date=date(2026, 3, 16), new_time=time(15, 30), actor="ann"
    )
    app.skip_review_occurrence(plan_id, date(2026, 8, 14), actor="ann", reason="summer break")
    calendar = feed(renderer, app, plan_id, parse)

    master, override = calendar.walk("VEVENT")
    assert master["EXDATE"].dts[0].dt == datetime(2026, 8, 14, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    assert override["UID"] == master["UID"]
    assert override["RECURRENCE-ID"].dt == datetime(2026, 3, 13, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    starts = [event["DTSTART"].dt.replace(tzinfo=None) for event in meetings(calendar)]
    assert datetime(2026, 3, 16, 15, 30) in starts
    assert datetime(2026, 3, 13, 10) not in starts
    assert datetime(2026, 8, 14, 10) not in starts
    assert len(starts) == 11
    expected = [
        datetime.combine(day, at) for day, at in app.plan(plan_id).plan.review_dates(*YEAR)
    ]
    assert starts == expected, "the feed agrees with the plan's own review dates"


def test_notes_of_a_review_held_appear_on_its_occurrence(
    app: Leanplan, renderer: FeedRenderer, parse: Parse
) -> None:
    plan_id = app.start_plan("Acme", actor="ann", timezone="Europe/Berlin")
    app.hold_review(
        plan_id, held_on=date(2026, 2, 13), notes="Beta on track", decisions=("Hire QA",), actor="ann"
    )
    app.move_review_occurrence(
        plan_id, date(2026, 4, 10), new_date=date(2026, 4, 9), new_time=time(9), actor="ann"
    )
    app.hold_review(plan_id, held_on=date(2026, 4, 9), notes="Moved one", actor="ann")
    app.hold_review(plan_id, held_on=date(2026, 5, 20), notes="Extra session", actor="ann")
    calendar = feed(renderer, app, plan_id, parse)

    by_start = {event["DTSTART"].dt.date(): event for event in meetings(calendar)}
    february = by_start[date(2026, 2, 13)]
    assert february["SUMMARY"] == "Plan review: Acme (held)"
    assert "Beta on track" in february["DESCRIPTION"] and "- Hire QA" in february["DESCRIPTION"]
    assert "Moved one" in by_start[date(2026, 4, 9)]["DESCRIPTION"]
    assert "held" not in by_start[date(2026, 1, 9)]["SUMMARY"]
    extra = [e for e in calendar.walk("VEVENT") if e.get("DTSTART").dt == date(2026, 5, 20)]
    assert len(extra) == 1 and "Extra session" in extra[0]["DESCRIPTION"]


def test_review_sequence_follows_the_series_not_the_rest_of_the_plan(
    app: Leanplan, renderer: FeedRenderer, parse: Parse
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")

    def series() -> icalendar.Event:
        return feed(renderer, app, plan_id, parse).walk("VEVENT")[0]

    first = series()
    assumption_id = app.add_assumption(plan_id, "People want it", actor="ann")
    app.validate_assumption(plan_id, assumption_id, evidence="pilot", actor="ann")
    app.add_milestone(
        plan_id, title="x", kind="implementation", due=date(2026, 5, 1), budget="1",
        owner=Person("Ann", "ann@example.com"), actor="ann",
    )  # fmt: skip
    unchanged = series()
    assert (unchanged["SEQUENCE"], unchanged["DTSTAMP"].dt) == (first["SEQUENCE"], first["DTSTAMP"].dt)
    app.set_review_cadence(
        plan_id, rrule="FREQ=MONTHLY;BYDAY=1MO", start_time=time(9), duration_minutes=30, actor="ann"
    )
    changed = series()
    assert changed["SEQUENCE"] == first["SEQUENCE"] + 1
    assert changed["RRULE"]["BYDAY"] == ["1MO"]
    assert changed["DURATION"].dt == timedelta(minutes=30)


def test_until_is_written_in_utc(app: Leanplan, renderer: FeedRenderer, parse: Parse) -> None:
    plan_id = app.start_plan("Acme", actor="ann", timezone="America/New_York")
    app.set_review_cadence(
        plan_id, rrule="FREQ=MONTHLY;BYDAY=2FR;UNTIL=20260601", start_time=time(10),
        duration_minutes=60, actor="ann",
    )  # fmt: skip
    calendar = feed(renderer, app, plan_id, parse)
    assert calendar.walk("VEVENT")[0]["RRULE"]["UNTIL"] == [datetime(2026, 6, 1, 4, tzinfo=UTC)]
    expected = app.plan(plan_id).plan.review_dates(*YEAR)
    assert [event["DTSTART"].dt.date() for event in meetings(calendar)] == [d for d, _ in expected]
    assert len(expected) == 5
