"""Plan → iCalendar: milestones as all-day events (or to-dos), the review as one recurring event.

Content lines are written here rather than through icalendar's component tree: that builds a
1,000-milestone feed more than ten times faster than icalendar does (bench/feeds.py), and leaves
each milestone as finished bytes that the next render reuses untouched. icalendar still supplies
what is hard to get right by hand — VTIMEZONE blocks from the tz database, and durations — and
the tests parse every feed back with icalendar and with the strict `ical` package.

Every timestamp in the output comes from the plan's events, never from the clock, so an unchanged
plan renders to the same bytes on every request (a stable ETag, and no spurious updates in clients
that compare DTSTAMP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from dateutil.parser import parse as parse_datetime
from icalendar import Timezone, vDuration

from domain.errors import AssumptionNotFound
from domain.milestone import Milestone
from domain.plan import MovedOccurrence, Plan, Review
from domain.values import Kind, MilestoneStatus
from domain.views import PlanView

PRODID = "-//leanplan//Lean Plan feed 1.0//EN"
VTIMEZONE_YEARS = 30
"""A VTIMEZONE covers the years the series uses plus this many: clients that know the TZID (all
the common ones) ignore it, and the rest need it only for occurrences they actually show."""

_LINE_OCTETS = 75
_BASE_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


class FeedFormat(StrEnum):
    """VEVENTs for every calendar (Google ignores VTODO); VTODOs for task-aware clients."""

    EVENT = "event"
    TODO = "todo"


@dataclass(frozen=True)
class FeedSettings:
    """What a deployment decides for all its feeds."""

    base_url: str
    refresh_interval: timedelta = timedelta(hours=1)
    cancelled_grace: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        # The base URL ends up in URI-valued properties, which have no escaping: refuse anything
        # that could end a line or a value there.
        if not _BASE_URL.fullmatch(self.base_url):
            raise ValueError(f"not an absolute http(s) URL: {self.base_url!r}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if self.refresh_interval <= timedelta(0) or self.cancelled_grace < timedelta(0):
            raise ValueError("the refresh interval must be positive, the grace period not negative")


@dataclass(frozen=True)
class FeedFilter:
    """Which milestones a feed shows; the review series is in every feed that keeps plan_review."""

    owner_email: str | None = None
    kinds: frozenset[Kind] | None = None

    def __post_init__(self) -> None:
        if self.owner_email is not None:
            object.__setattr__(self, "owner_email", self.owner_email.strip().casefold())

    @property
    def includes_review(self) -> bool:
        return self.kinds is None or Kind.PLAN_REVIEW in self.kinds

    def includes(self, milestone: Milestone) -> bool:
        if self.kinds is not None and milestone.kind not in self.kinds:
            return False
        return self.owner_email is None or milestone.owner.email.casefold() == self.owner_email


_Kept = tuple[tuple[object, ...], bytes]
"""Rendered bytes with what they were built from; reused only while that is unchanged."""


class FeedRenderer:
    """Renders plans to feeds, keeping each milestone's finished component between renders.

    A component is kept per (milestone, format) together with what it was built from — the
    milestone's version and the plan facts it shows — so a render after one change rebuilds one
    component, and memory holds one entry per milestone however often it changes. Each whole feed
    is kept the same way, so polling an unchanged plan returns the very same bytes object. Dict
    reads and writes are atomic, so threads may share a renderer: at worst two build one entry.
    """

    def __init__(self, settings: FeedSettings) -> None:
        self.settings = settings
        self._feeds: dict[tuple[UUID, FeedFilter, FeedFormat], _Kept] = {}
        self._components: dict[tuple[UUID, FeedFormat], _Kept] = {}
        self._reviews: dict[UUID, tuple[int, bytes]] = {}
        ttl = vDuration(settings.refresh_interval).to_ical().decode()
        # RFC 7986 clients read REFRESH-INTERVAL (which must say VALUE=DURATION), Outlook the TTL.
        self._refresh = _lines(f"REFRESH-INTERVAL;VALUE=DURATION:{ttl}", f"X-PUBLISHED-TTL:{ttl}")

    def render(
        self,
        view: PlanView,
        *,
        now: datetime,
        feed_filter: FeedFilter = FeedFilter(),
        format: FeedFormat = FeedFormat.EVENT,
    ) -> bytes:
        """The VCALENDAR of the plan; `now` only decides which cancelled milestones have expired."""
        plan = view.plan
        expired = frozenset(m.id for m in view.milestones if self._expired(m, now))
        built_from = (plan.version, tuple((m.id, m.version) for m in view.milestones), expired)
        cached = self._feeds.get((plan.id, feed_filter, format))
        if cached is not None and cached[0] == built_from:
            return cached[1]
        body = self._calendar(view, expired, feed_filter, format)
        self._feeds[(plan.id, feed_filter, format)] = (built_from, body)
        return body

    def _calendar(
        self, view: PlanView, expired: frozenset[UUID], feed_filter: FeedFilter, format: FeedFormat
    ) -> bytes:
        plan = view.plan
        name = escape_text(plan.name)
        parts = [
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n",
            content_line(f"PRODID:{PRODID}"),
            b"CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n",
            content_line(f"NAME:{name}"),
            content_line(f"X-WR-CALNAME:{name}"),
            content_line(f"X-WR-TIMEZONE:{plan.timezone}"),
            self._refresh,
        ]
        if feed_filter.includes_review:
            parts.append(self._review(plan))
        for milestone in view.milestones:
            if milestone.id not in expired and feed_filter.includes(milestone):
                parts.append(self._milestone(milestone, plan, format))
        parts.append(b"END:VCALENDAR\r\n")
        return b"".join(parts)

    def last_modified(self, view: PlanView, *, now: datetime) -> datetime:
        """When any feed of the plan last changed, for HTTP Last-Modified.

        Taken over all milestones, not only the shown ones (a reassigned milestone leaves an
        owner's feed), and counting the moment an expired cancellation left the feed, so that
        If-Modified-Since never hides a change.
        """
        moments = [view.plan.modified_on]
        for milestone in view.milestones:
            moments.append(milestone.modified_on)
            end = self._grace_end(milestone)
            if end is not None and end <= now:
                moments.append(end)
        return max(moments)

    def next_expiry(self, view: PlanView, *, now: datetime) -> datetime | None:
        """When the clock alone next changes the plan's feeds: the end of the earliest grace
        period still running, or None when no cancelled milestone is waiting to leave."""
        ends = (self._grace_end(milestone) for milestone in view.milestones)
        return min((end for end in ends if end is not None and end > now), default=None)

    def _expired(self, milestone: Milestone, now: datetime) -> bool:
        end = self._grace_end(milestone)
        return end is not None and end <= now

    def _grace_end(self, milestone: Milestone) -> datetime | None:
        """When a cancelled milestone leaves the feeds; None for one not cancelled."""
        if milestone.status != MilestoneStatus.CANCELLED or milestone.cancelled_at is None:
            return None
        end: datetime = milestone.cancelled_at + self.settings.cancelled_grace
        return end

    def _milestone(self, milestone: Milestone, plan: Plan, format: FeedFormat) -> bytes:
        assumption = _assumption_line(plan, milestone.assumption_id)
        built_from = (milestone.version, plan.currency, assumption)
        cached = self._components.get((milestone.id, format))
        if cached is not None and cached[0] == built_from:
            return cached[1]
        component = milestone_component(
            milestone, currency=plan.currency, assumption=assumption,
            base_url=self.settings.base_url, format=format,
        )  # fmt: skip
        self._components[(milestone.id, format)] = (built_from, component)
        return component

    def _review(self, plan: Plan) -> bytes:
        cached = self._reviews.get(plan.id)
        if cached is not None and cached[0] == plan.version:
            return cached[1]
        rendered = review_components(plan, base_url=self.settings.base_url)
        self._reviews[plan.id] = (plan.version, rendered)
        return rendered


def milestone_component(
    milestone: Milestone,
    *,
    currency: str,
    assumption: str | None,
    base_url: str,
    format: FeedFormat = FeedFormat.EVENT,
) -> bytes:
    """One milestone as an all-day VEVENT (or a VTODO), with the feed's content rules.

    SEQUENCE, DTSTAMP and LAST-MODIFIED come from the milestone's own events, so clients apply an
    update exactly when the milestone changed. The VTODO gets its own UID: a client holding both
    flavours must not take one for a new version of the other.
    """
    link = f"{base_url}/plans/{milestone.plan_id}/milestones/{milestone.id}"
    status = milestone.status
    done = status == MilestoneStatus.DONE
    kind = milestone.kind.value.replace("_", " ")
    summary = f"{'✓ ' if done else ''}{milestone.title} ({kind}, {status.value})"
    stamp = _utc(milestone.modified_on)
    lines = [
        f"UID:{milestone.id if format == FeedFormat.EVENT else uuid5(milestone.id, 'todo')}",
        f"DTSTAMP:{stamp}",
        f"CREATED:{_utc(milestone.created_on)}",
        f"LAST-MODIFIED:{stamp}",
        f"SEQUENCE:{milestone.sequence}",
    ]
    if format == FeedFormat.EVENT:
        lines += _all_day(milestone.due)
        cancelled = status == MilestoneStatus.CANCELLED
        lines += ["STATUS:CANCELLED" if cancelled else "STATUS:CONFIRMED", "TRANSP:TRANSPARENT"]
    else:
        lines.append(f"DUE;VALUE=DATE:{_date(milestone.due)}")
        lines.append(f"STATUS:{_TODO_STATUS[status]}")
        if done:
            lines.append("PERCENT-COMPLETE:100")
    lines += [
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(_description(milestone, currency, assumption, link))}",
        f"CATEGORIES:{milestone.kind.value}",
        f"URL:{link}",
    ]
    component = "VEVENT" if format == FeedFormat.EVENT else "VTODO"
    return _lines(f"BEGIN:{component}", *lines, f"END:{component}")


def milestone_event(milestone: Milestone, plan: Plan, *, base_url: str) -> bytes:
    """The milestone's VEVENT exactly as feeds show it, for writers that store one object per
    milestone (CalDAV sync, adapters.caldav_content)."""
    assumption = _assumption_line(plan, milestone.assumption_id)
    return milestone_component(
        milestone, currency=plan.currency, assumption=assumption, base_url=base_url
    )


_TODO_STATUS = {
    MilestoneStatus.PLANNED: "NEEDS-ACTION",
    MilestoneStatus.DONE: "COMPLETED",
    MilestoneStatus.CANCELLED: "CANCELLED",
}


def _description(milestone: Milestone, currency: str, assumption: str | None, link: str) -> str:
    cost = milestone.actual_cost
    actual = "none yet" if cost is None else f"{cost:.2f} {currency}"
    paragraphs = [
        f"Owner: {milestone.owner.name} <{milestone.owner.email}>",
        f"Budget: {milestone.budget:.2f} {currency} planned, {actual} actual",
    ]
    if milestone.completed_on is not None:
        paragraphs.append(f"Completed on: {milestone.completed_on.isoformat()}")
    if assumption is not None:
        paragraphs.append(f"Tests the assumption: {assumption}")
    if milestone.last_reschedule_reason:
        paragraphs.append(f"Last rescheduled because: {milestone.last_reschedule_reason}")
    body = "\n".join(paragraphs)
    if milestone.description.strip():
        body += f"\n\n{milestone.description}"
    return f"{body}\n\n{link}"


def _assumption_line(plan: Plan, assumption_id: UUID | None) -> str | None:
    if assumption_id is None:
        return None
    try:
        assumption = plan.assumption(assumption_id)
    except AssumptionNotFound:  # a plan seen as of a moment before the assumption existed
        return None
    return f"{assumption.statement} ({assumption.status.value})"


@dataclass(frozen=True)
class _Occurrences:
    """The review series' exceptions, restricted to days the current rule actually produces."""

    moved: dict[date, MovedOccurrence]
    skipped: list[date]
    held: dict[date, list[Review]]
    unmatched: list[Review]


def review_components(plan: Plan, *, base_url: str) -> bytes:
    """The review series: VTIMEZONE, the recurring VEVENT, and one override per changed occurrence.

    A moved occurrence, or one at which a review was held, becomes a RECURRENCE-ID override; a
    skipped one an EXDATE. A review held on a day without a meeting gets an all-day event of its
    own, so no notes are lost. DURATION rather than DTEND keeps the length right across DST.
    """
    cadence = plan.cadence
    first = cadence.first_date()
    head = _review_head(plan)
    link = f"{base_url}/plans/{plan.id}/review"
    if first is None:
        return _held_elsewhere(plan, plan.reviews, head, link)
    found = _occurrences(plan)
    zone, start = plan.timezone, cadence.start_time
    duration = vDuration(cadence.duration).to_ical().decode()
    overrides = {occurrence: (m.new_date, m.new_time) for occurrence, m in found.moved.items()}
    for occurrence in found.held:
        overrides.setdefault(occurrence, (occurrence, start))
    years = [first.year, *(day.year for day, _ in overrides.values())]
    master = [
        "BEGIN:VEVENT",
        *head,
        f"DTSTART;TZID={zone}:{_local(first, start)}",
        f"DURATION:{duration}",
        f"RRULE:{_rule_for_feed(cadence.rrule, zone)}",
    ]
    if found.skipped:
        master.append(f"EXDATE;TZID={zone}:" + ",".join(_local(d, start) for d in found.skipped))
    master += [*_review_text(plan, link, ""), "END:VEVENT"]
    parts = [_vtimezone(zone, min(years), max(years)), _lines(*master)]
    for occurrence in sorted(overrides):
        day, at = overrides[occurrence]
        notes = "\n\n".join(_review_notes(review) for review in found.held.get(occurrence, []))
        parts.append(
            _lines(
                "BEGIN:VEVENT",
                *head,
                f"RECURRENCE-ID;TZID={zone}:{_local(occurrence, start)}",
                f"DTSTART;TZID={zone}:{_local(day, at)}",
                f"DURATION:{duration}",
                *_review_text(plan, link, notes),
                "END:VEVENT",
            )
        )
    parts.append(_held_elsewhere(plan, found.unmatched, head, link))
    return b"".join(parts)


def _occurrences(plan: Plan) -> _Occurrences:
    """Sorts moves, skips and reviews held onto occurrences, as `Plan.review_dates` reads them."""
    moved, skipped, reviews = plan.moved_occurrences, plan.skipped_occurrences, plan.reviews
    days = {*moved, *skipped, *(review.held_on for review in reviews)}
    produced = set(plan.cadence.dates_between(min(days), max(days))) if days else set()
    moved = {day: m for day, m in moved.items() if day in produced}
    skipped = {day for day in skipped if day in produced}
    meeting_on = {m.new_date: occurrence for occurrence, m in moved.items()}
    as_planned = produced.difference(moved, skipped)
    held: dict[date, list[Review]] = {}
    unmatched = []
    for review in reviews:
        occurrence = meeting_on.get(review.held_on)
        if occurrence is None and review.held_on in as_planned:
            occurrence = review.held_on
        if occurrence is None:
            unmatched.append(review)
        else:
            held.setdefault(occurrence, []).append(review)
    return _Occurrences(moved, sorted(skipped), held, unmatched)


def _review_head(plan: Plan) -> list[str]:
    stamp = _utc(plan.review_modified_on)
    return [
        f"UID:{uuid5(plan.id, 'review')}",
        f"DTSTAMP:{stamp}",
        f"CREATED:{_utc(plan.created_on)}",
        f"LAST-MODIFIED:{stamp}",
        f"SEQUENCE:{plan.review_sequence}",
    ]


def _review_text(plan: Plan, link: str, notes: str) -> list[str]:
    summary = f"Plan review: {plan.name}{' (held)' if notes else ''}"
    paragraphs = [f"The review meeting of the Lean Plan {plan.name}.", notes, link]
    description = "\n\n".join(p for p in paragraphs if p)
    return [
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"CATEGORIES:{Kind.PLAN_REVIEW.value}",
        "STATUS:CONFIRMED",
        f"URL:{link}",
    ]


def _review_notes(review: Review) -> str:
    text = f"Review held on {review.held_on.isoformat()} by {review.actor}.\n{review.notes}"
    if review.decisions:
        text += "\nDecisions:\n" + "\n".join(f"- {decision}" for decision in review.decisions)
    return text


def _held_elsewhere(plan: Plan, reviews: list[Review], head: list[str], link: str) -> bytes:
    """Reviews held on a day with no meeting: one all-day event per day."""
    by_day: dict[date, list[str]] = {}
    for review in reviews:
        by_day.setdefault(review.held_on, []).append(_review_notes(review))
    return b"".join(
        _lines(
            "BEGIN:VEVENT",
            f"UID:{uuid5(plan.id, f'review-held/{day.isoformat()}')}",
            *head[1:],
            *_all_day(day),
            *_review_text(plan, link, "\n\n".join(by_day[day])),
            "END:VEVENT",
        )
        for day in sorted(by_day)
    )


def _rule_for_feed(rule: str, zone: str) -> str:
    """The cadence's RRULE as RFC 5545 wants it beside a zoned DTSTART: with UNTIL in UTC.

    UNTIL is read as the plan reads it (dateutil, leniently), and a bare one as wall time in the
    plan's zone — a date as that day's midnight.
    """
    parts = []
    for part in rule.upper().split(";"):
        key, _, value = (text.strip() for text in part.partition("="))
        if key == "UNTIL":
            until = parse_datetime(value)
            value = _utc(until if until.tzinfo else until.replace(tzinfo=ZoneInfo(zone)))
        if key:
            parts.append(f"{key}={value}")
    return ";".join(parts)


@lru_cache(maxsize=256)
def _vtimezone(zone: str, first_year: int, last_year: int) -> bytes:
    """icalendar's VTIMEZONE for the years used; a pure function of tzdata, so kept per process.

    The span is capped: a meeting moved centuries ahead must not cost a walk through every
    transition in between (clients resolve an IANA TZID themselves anyway).
    """
    last_year = min(last_year, first_year + 100) + VTIMEZONE_YEARS
    first, last = date(first_year, 1, 1), date(min(last_year, 9999), 1, 1)
    return Timezone.from_tzid(zone, first_date=first, last_date=last).to_ical()


# Text and lines.

def _text_table() -> dict[int, str | None]:
    """TEXT escapes (RFC 5545 3.3.11), every line break as an escaped newline, other controls
    dropped (TEXT forbids them) and lone surrogates replaced (they cannot be encoded)."""
    table: dict[int, str | None] = {ord("\\"): "\\\\", ord(";"): "\\;", ord(","): "\\,"}
    for brk in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        table[ord(brk)] = "\\n"
    for code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]:
        if code != ord("\t"):
            table.setdefault(code, None)
    for code in range(0xD800, 0xE000):
        table[code] = "\ufffd"
    return table


_TEXT = str.maketrans(_text_table())


def escape_text(value: str) -> str:
    """A TEXT value that no input can break out of: no raw line break, `;` or `,` survives."""
    return value.replace("\r\n", "\n").translate(_TEXT)


def content_line(content: str) -> bytes:
    """One content line with CRLF, folded at 75 octets (RFC 5545 3.1).

    A fold never splits a UTF-8 sequence, and never separates a backslash from the character it
    escapes: some clients unfold such lines wrongly.
    """
    raw = content.encode()
    if len(raw) <= _LINE_OCTETS:
        return raw + b"\r\n"
    chunks = []
    start, room = 0, _LINE_OCTETS
    while len(raw) - start > room:
        cut = start + room
        while raw[cut] & 0xC0 == 0x80:
            cut -= 1
        chunk = raw[start:cut]
        if (len(chunk) - len(chunk.rstrip(b"\\"))) % 2:
            cut -= 1
        chunks.append(raw[start:cut])
        start, room = cut, _LINE_OCTETS - 1  # the leading space of a continuation counts
    chunks.append(raw[start:])
    return b"\r\n ".join(chunks) + b"\r\n"


def _lines(*contents: str) -> bytes:
    return b"".join(map(content_line, contents))


def _all_day(day: date) -> list[str]:
    """DTSTART and the exclusive DTEND of a one-day event: floating dates, no zone shifts them."""
    start = f"DTSTART;VALUE=DATE:{_date(day)}"
    if day == date.max:  # no next day to end on; a date event without DTEND lasts one day
        return [start]
    return [start, f"DTEND;VALUE=DATE:{_date(day + timedelta(days=1))}"]


def _date(day: date) -> str:
    return day.isoformat().replace("-", "")


def _local(day: date, at: time) -> str:
    return f"{_date(day)}T{at.hour:02d}{at.minute:02d}{at.second:02d}"


def _utc(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{_date(moment.date())}T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"
