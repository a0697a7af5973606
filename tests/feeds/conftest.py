"""Fixtures for the feed tests: an in-memory application on a fixed clock, and a strict parser."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import eventsourcing.domain
import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

import domain.milestone
import domain.plan
from adapters.ical import FeedRenderer, FeedSettings
from domain.application import Leanplan

TODAY = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
BASE_URL = "https://plans.example.org"


@pytest.fixture
def app() -> Leanplan:
    """Plans start on 1 January 2026, so the default cadence's first meeting is 9 January."""
    return Leanplan(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=lambda: TODAY)


@pytest.fixture
def renderer() -> FeedRenderer:
    return FeedRenderer(FeedSettings(BASE_URL))


def _parse(body: bytes) -> icalendar.Calendar:
    """Parses a feed with icalendar and with the strict `ical` package; both must accept it."""
    IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    calendar = icalendar.Calendar.from_ical(body)
    assert isinstance(calendar, icalendar.Calendar)
    return calendar


@pytest.fixture
def parse() -> Callable[[bytes], icalendar.Calendar]:
    return _parse


@pytest.fixture
def fixed_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Event timestamps and new ids made predictable, for golden files.

    Leanplan's clock only decides "today"; eventsourcing stamps each event with the wall clock
    (`eventsourcing.domain.datetime_now_with_tzinfo`) and the domain draws ids from `uuid4`. Both
    are replaced: each event is one minute after the last, each id the next of a counter.
    """
    moments = (TODAY + timedelta(minutes=n) for n in itertools.count())
    numbers = itertools.count(1)
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: next(moments))
    new_id: Callable[[], UUID] = lambda: UUID(f"00000000-0000-4000-8000-{next(numbers):012d}")
    monkeypatch.setattr(domain.plan, "uuid4", new_id)
    monkeypatch.setattr(domain.milestone, "uuid4", new_id)
    yield
