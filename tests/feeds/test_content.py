"""What a feed says about milestones: dates, identity, versions, text, status and filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import icalendar
import pytest

from adapters.ical import FeedFilter, FeedFormat, FeedRenderer, FeedSettings
from domain.application import Leanplan
from domain.values import Kind, Person

Parse = Callable[[bytes], icalendar.Calendar]
ANN = Person("Ann Example", "ann@example.com")
BOB = Person("Bob Example", "Bob@Example.com")


def add(app: Leanplan, plan_id: UUID, title: str = "Launch beta", **fields: object) -> UUID:
    values: dict[str, object] = {
        "kind": "implementation",
        "due": date(2026, 3, 20),
        "budget": "1500",
        "owner": ANN,
        "actor": "ann",
    }
    values.update(fields)
    return app.add_milestone(plan_id, title=title, **values)  # type: ignore[arg-type]


def render(renderer: FeedRenderer, app: Leanplan, plan_id: UUID, **options: object) -> bytes:
    options.setdefault("now", datetime.now(UTC))
    return renderer.render(app.plan(plan_id), **options)  # type: ignore[arg-type]


def milestone_events(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {
        str(event["UID"]): event
        for event in calendar.walk("VEVENT")
        if "/milestones/" in event.get("URL", "")
    }


def test_calendar_properties(app: Leanplan, renderer: FeedRenderer, parse: Parse) -> None:
    plan_id = app.start_plan("Acme launch", actor="ann", timezone="Europe/Berlin")
    body = render(renderer, app, plan_id)
    calendar = parse(body)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"].startswith("-//leanplan//")
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["NAME"] == calendar["X-WR-CALNAME"] == "Acme launch"
    assert calendar["X-WR-TIMEZONE"] == "Europe/Berlin"
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in body
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in body
    assert "UID" not in calendar  # a random calendar UID would change the bytes on every render


def test_refresh_interval_is_configurable(app: Leanplan, parse: Parse) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    renderer = FeedRenderer(FeedSettings("https://x.example/", refresh_interval=timedelta(hours=6)))
    body = render(renderer, app, plan_id)
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT6H\r\nX-PUBLISHED-TTL:PT6H\r\n" in body
    parse(body)


def test_a_milestone_is_an_all_day_event(app: Leanplan, renderer: FeedRenderer, parse: Parse) -> None:
    plan_id = app.start_plan("Acme", actor="ann", currency="EUR")
    assumption_id = app.add_assumption(plan_id, "Teams pay for planning", actor="ann")
    milestone_id = add(
        app, plan_id, kind="assumption", description="Ask ten teams.", assumption_id=assumption_id
    )
    app.reschedule(milestone_id, date(2026, 3, 27), reason="supplier late", actor="ann")
    body = render(renderer, app, plan_id)
    event = milestone_events(parse(body))[str(milestone_id)]
    milestone = app.milestone(milestone_id)

    assert b"DTSTART;VALUE=DATE:20260327\r\nDTEND;VALUE=DATE:20260328\r\n" in body
    assert event.start == date(2026, 3, 27) and event.end == date(2026, 3, 28)
    assert event["SEQUENCE"] == milestone.sequence == 1
    changed = milestone.modified_on.replace(microsecond=0)
    assert event["DTSTAMP"].dt == event["LAST-MODIFIED"].dt == changed
    assert event["CREATED"].dt == milestone.created_on.replace(microsecond=0)
    assert event["SUMMARY"] == "Launch beta (assumption, planned)"
    assert event.categories == ["assumption"]
    link = f"https://plans.example.org/plans/{plan_id}/milestones/{milestone_id}"
    assert event["URL"] == link
    description = str(event["DESCRIPTION"])
    for part in (
        "Owner: Ann Example <ann@example.com>",
        "Budget: 1500.00 EUR planned, none yet actual",
        "Tests the assumption: Teams pay for planning (untested)",
        "Last rescheduled because: supplier late",
        "Ask ten teams.",
        link,
    ):
        assert part in description


def test_done_milestones_are_marked_with_their_actual_cost(
    app: Leanplan, renderer: FeedRenderer, parse: Parse
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    milestone_id = add(app, plan_id)
    app.complete(milestone_id, actor="ann", actual_cost="1200.50", completed_on=date(2026, 3, 19))
    event = milestone_events(parse(render(renderer, app, plan_id)))[str(milestone_id)]
    assert event["SUMMARY"] == "✓ Launch beta (implementation, done)"
    assert "1500.00 USD planned, 1200.50 USD actual" in event["DESCRIPTION"]
    assert "Completed on: 2026-03-19" in event["DESCRIPTION"]
    assert event["STATUS"] == "CONFIRMED"


def test_a_reschedule_keeps_the_uid_and_raises_sequence(
    app: Leanplan, renderer: FeedRenderer, parse: Parse
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    milestone_id = add(app, plan_id)
    before = milestone_events(parse(render(renderer, app, plan_id)))[str(milestone_id)]
    app.reschedule(milestone_id, date(2026, 4, 3), reason="late", actor="ann")
    after = milestone_events(parse(render(renderer, app, plan_id)))[str(milestone_id)]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTAMP"].dt >= before["DTSTAMP"].dt
    assert (before.start, after.start) == (date(2026, 3, 20), date(2026, 4, 3))


def test_a_cancelled_milestone_stays_for_the_grace_period_then_leaves(
    app: Leanplan, renderer: FeedRenderer, parse: Parse
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    milestone_id = add(app, plan_id)
    sequence = app.milestone(milestone_id).sequence
    app.cancel(milestone_id, reason="dropped", actor="ann")
    cancelled_at = app.milestone(milestone_id).cancelled_at
    during = render(renderer, app, plan_id, now=cancelled_at + timedelta(days=29, hours=23))
    event = milestone_events(parse(during))[str(milestone_id)]
    assert event["STATUS"] == "CANCELLED"
    assert event["SEQUENCE"] > sequence
    after = render(renderer, app, plan_id, now=cancelled_at + timedelta(days=30))
    assert str(milestone_id) not in milestone_events(parse(after))
    assert renderer.last_modified(app.plan(plan_id), now=cancelled_at + timedelta(days=30)) == (
        cancelled_at + timedelta(days=30)
    )


def test_the_grace_period_is_configurable(app: Leanplan) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    milestone_id = add(app, plan_id)
    app.cancel(milestone_id, reason="dropped", actor="ann")
    renderer = FeedRenderer(FeedSettings("https://x.example", cancelled_grace=timedelta(0)))
    assert str(milestone_id).encode() not in render(renderer, app, plan_id)


@pytest.mark.parametrize("zone", ["Pacific/Auckland", "Pacific/Kiritimati", "America/Adak", "UTC"])
def test_all_day_dates_are_never_shifted_by_the_plans_zone(
    app: Leanplan, renderer: FeedRenderer, parse: Parse, zone: str
) -> None:
    plan_id = app.start_plan("Far away", actor="ann", timezone=zone)
    leap = add(app, plan_id, "Leap day", due=date(2028, 2, 29))
    new_year = add(app, plan_id, "Year end", due=date(2026, 12, 31))
    body = render(renderer, app, plan_id)
    events = milestone_events(parse(body))
    assert (events[str(leap)].start, events[str(leap)].end) == (date(2028, 2, 29), date(2028, 3, 1))
    assert (events[str(new_year)].start, events[str(new_year)].end) == (
        date(2026, 12, 31),
        date(2027, 1, 1),
    )
    assert b"DTSTART;VALUE=DATE:20280229\r\nDTEND;VALUE=DATE:20280301\r\n" in body
    assert b"DTSTART;VALUE=DATE:20261231\r\nDTEND;VALUE=DATE:20270101\r\n" in body


def test_the_last_representable_day_has_no_dtend(
    app: Leanplan, renderer: FeedRenderer, parse: Parse
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    milestone_id = add(app, plan_id, due=date.max)
    event = milestone_events(parse(render(renderer, app, plan_id)))[str(milestone_id)]
    assert event.start == date.max and "DTEND" not in event


def test_filters_by_owner_and_kind(app: Leanplan, renderer: FeedRenderer, parse: Parse) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    anns = add(app, plan_id, "Ann's", owner=ANN)
    bobs = add(app, plan_id, "Bob's", owner=BOB, kind="assumption")
    review = add(app, plan_id, "Review prep", kind="plan_review", owner=BOB)

    def shown(feed_filter: FeedFilter) -> tuple[set[str], bool]:
        calendar = parse(render(renderer, app, plan_id, feed_filter=feed_filter))
        has_series = any("RRULE" in event for event in calendar.walk("VEVENT"))
        return set(milestone_events(calendar)), has_series

    everything = {str(anns), str(bobs), str(review)}
    assert shown(FeedFilter()) == (everything, True)
    assert shown(FeedFilter(owner_email=" bob@example.COM")) == ({str(bobs), str(review)}, True)
    assert shown(FeedFilter(kinds=frozenset({Kind.ASSUMPTION}))) == ({str(bobs)}, False)
    kinds = frozenset({Kind.PLAN_REVIEW, Kind.IMPLEMENTATION})
    assert shown(FeedFilter(kinds=kinds)) == ({str(anns), str(review)}, True)
    assert shown(FeedFilter(owner_email="nobody@example.com")) == (set(), True)


def test_the_todo_flavour(app: Leanplan, renderer: FeedRenderer, parse: Parse) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    open_id = add(app, plan_id, "Open")
    done_id = add(app, plan_id, "Done")
    cancelled_id = add(app, plan_id, "Dropped")
    app.complete(done_id, actor="ann")
    app.cancel(cancelled_id, reason="no longer needed", actor="ann")
    calendar = parse(render(renderer, app, plan_id, format=FeedFormat.TODO))
    todos = {str(todo["SUMMARY"]).split(" (")[0]: todo for todo in calendar.walk("VTODO")}
    assert {name: str(todo["STATUS"]) for name, todo in todos.items()} == {
        "Open": "NEEDS-ACTION",
        "✓ Done": "COMPLETED",
        "Dropped": "CANCELLED",
    }
    assert todos["Open"]["DUE"].dt == date(2026, 3, 20)
    assert todos["✓ Done"]["PERCENT-COMPLETE"] == 100
    assert str(open_id) not in {str(todo["UID"]) for todo in todos.values()}
    assert len(calendar.walk("VEVENT")) == 1  # the review stays an event


def test_an_unchanged_plan_renders_to_identical_bytes(app: Leanplan) -> None:
    plan_id = app.start_plan("Acme", actor="ann", timezone="America/New_York")
    add(app, plan_id)
    app.move_review_occurrence(
        plan_id, date(2026, 2, 13), new_date=date(2026, 2, 12), new_time=datetime.min.time(), actor="ann"
    )
    first = render(FeedRenderer(FeedSettings("https://x.example")), app, plan_id)
    warm = FeedRenderer(FeedSettings("https://x.example"))
    assert render(warm, app, plan_id) == first
    assert render(warm, app, plan_id, now=datetime.now(UTC) + timedelta(days=9)) == first


def test_settings_refuse_a_base_url_that_could_break_a_line() -> None:
    with pytest.raises(ValueError):
        FeedSettings("https://x.example/\r\nBEGIN:VEVENT")
    with pytest.raises(ValueError):
        FeedSettings("javascript:alert(1)")
