"""Malformed and hostile objects from the server are skipped with a logged error; the rest of the
sync goes on, and the plan's own version is written back over them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from urllib.parse import urlsplit

import pytest

from adapters.caldav_content import HostileObject, parse_object, resource_name
from adapters.caldav_sync import CalendarSync
from tests.caldav.conftest import Linked
from tests.caldav.support import Proxy, move_all_day

HOSTILE = {
    "garbage": b"\x00\xff this is not iCalendar \xfe",
    "no_uid": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20310101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "huge": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDESCRIPTION:"
    + b"A" * 3_000_000
    + b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "deep": b"BEGIN:VCALENDAR\r\n"
    + b"BEGIN:X\r\n" * 5_000
    + b"END:X\r\n" * 5_000
    + b"END:VCALENDAR\r\n",
    "unbalanced": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VCALENDAR\r\n",
    "bad_date": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:2031-13-45\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_the_parser_refuses_hostile_objects_quickly(kind: str) -> None:
    started = time.perf_counter()
    with pytest.raises(HostileObject):
        parse_object(HOSTILE[kind])
    assert time.perf_counter() - started < 1.0


def test_an_exploding_recurrence_rule_is_compared_not_expanded() -> None:
    body = (
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20310101T000000Z\r\n"
        b"RRULE:FREQ=SECONDLY;INTERVAL=1;COUNT=999999999;BYSECOND=0,1,2,3,4,5,6,7,8,9\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    started = time.perf_counter()
    fields = parse_object(body).fields
    assert fields["RRULE"].startswith("BYSECOND=")
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_object_is_skipped_and_the_sync_goes_on(
    link: Callable[..., Linked],
    worker: CalendarSync,
    proxy_for: Callable[..., Proxy],
    collection: str,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    proxy = proxy_for()
    linked = link(2, url=proxy.url + urlsplit(collection).path)
    worker.sync_once()
    spoiled, moved = (resource_name(str(m)) for m in linked.milestones)
    # The calendar changes both objects; the server then serves something hostile for one.
    linked.calendar.edit(spoiled, lambda text: text.replace("SUMMARY:", "SUMMARY:x"))
    linked.calendar.edit(moved, lambda text: move_all_day(text, "20310808"))
    proxy.hostile[spoiled] = HOSTILE[kind]
    with caplog.at_level(logging.ERROR, logger="adapters.caldav_sync"):
        report = worker.sync_once()
    assert not report.failed
    assert any(
        spoiled in record.getMessage()
        for record in caplog.records
        if record.levelno == logging.ERROR
    )
    assert linked.app.milestone(linked.milestones[1]).due == date(2031, 8, 8)
    del proxy.hostile[spoiled]
    body, _ = linked.calendar.get(spoiled)
    assert parse_object(body).fields["SUMMARY"] == "Milestone 0 (implementation, planned)"
