"""What a feed says, read back from the very bytes a subscriber gets: the feed debug page shows it.

Reading the rendered feed rather than the plan means the preview shows what a calendar client
would show, rendering bugs included. The review's next meetings are expanded from the feed's own
RRULE, EXDATEs and RECURRENCE-ID overrides by recurring-ical-events, the way a client expands them.

Parsing is the costly part (about a second for a 1,000-milestone feed), so what a body parses to
is kept for a few bodies: the renderer hands out the same bytes while the plan is unchanged, so
looking again costs only the expansion of the next meetings, which moves with the clock.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache

import icalendar
import recurring_ical_events

NEXT_MEETINGS = 3
KEPT_BODIES = 8


@dataclass(frozen=True)
class DatedEvent:
    """A one-day event: a milestone, or the notes of a review held on a day without a meeting."""

    summary: str
    day: date
    status: str
    sequence: int
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Override:
    """One occurrence of a series that moved, or that carries the notes of the review held then."""

    occurrence: datetime
    starts: datetime
    summary: str


@dataclass(frozen=True)
class Series:
    """A recurring event (the review meeting) as the feed states it, and where it goes next."""

    summary: str
    starts: datetime
    duration: timedelta | None
    rules: tuple[str, ...]
    sequence: int
    skipped: tuple[datetime, ...]
    overrides: tuple[Override, ...]
    next_meetings: tuple[datetime, ...]


@dataclass(frozen=True)
class FeedPreview:
    calendar_name: str
    octets: int
    events: tuple[DatedEvent, ...]
    series: tuple[Series, ...]


def preview(body: bytes, *, now: datetime, next_meetings: int = NEXT_MEETINGS) -> FeedPreview:
    """The feed's events sorted by date; each series with its next meetings starting from `now`."""
    name, events, series = _read(body)
    return FeedPreview(
        name,
        len(body),
        events,
        tuple(replace(s, next_meetings=_next(alone, now, next_meetings)) for s, alone in series),
    )


_Read = tuple[str, tuple[DatedEvent, ...], tuple[tuple[Series, icalendar.Calendar], ...]]


@lru_cache(maxsize=KEPT_BODIES)
def _read(body: bytes) -> _Read:
    """The calendar's name, its dated events, and each series with a calendar of only its own
    components to expand; never mutated once kept."""
    calendar = icalendar.Calendar.from_ical(body)
    components = calendar.walk("VEVENT")
    masters = [c for c in components if c.rrules]
    recurring = {master.uid for master in masters}
    events = [_dated(c) for c in components if not c.rrules and not _overrides(c, recurring)]
    series = []
    for master in masters:
        overrides = [c for c in components if c.uid == master.uid and _overrides(c, recurring)]
        alone = icalendar.Calendar()
        for component in (master, *overrides):
            alone.add_component(component)
        series.append((_series(master, overrides), alone))
    return (
        str(calendar.get("X-WR-CALNAME", calendar.get("NAME", ""))),
        tuple(sorted(events, key=lambda e: (e.day, e.summary))),
        tuple(series),
    )


def _overrides(component: icalendar.Event, recurring: set[str]) -> bool:
    return "RECURRENCE-ID" in component and component.uid in recurring


def _dated(component: icalendar.Event) -> DatedEvent:
    start = component.start
    return DatedEvent(
        str(component.summary or ""),
        start.date() if isinstance(start, datetime) else start,
        str(component.get("STATUS", "")),
        component.sequence,
        tuple(map(str, component.categories)),
    )


def _series(master: icalendar.Event, overrides: list[icalendar.Event]) -> Series:
    return Series(
        str(master.summary or ""),
        master.start,
        master.duration,
        tuple(rule.to_ical().decode() for rule in master.rrules),
        master.sequence,
        tuple(sorted(master.exdates)),
        tuple(
            Override(o["RECURRENCE-ID"].dt, o.start, str(o.summary or ""))
            for o in sorted(overrides, key=lambda o: o["RECURRENCE-ID"].dt)
        ),
        next_meetings=(),
    )


def _next(series: icalendar.Calendar, now: datetime, count: int) -> tuple[datetime, ...]:
    """The first `count` meetings starting at or after `now`, as a client expands the series."""
    expanded = recurring_ical_events.of(series).after(now)
    return tuple(itertools.islice((m.start for m in expanded if m.start >= now), count))
