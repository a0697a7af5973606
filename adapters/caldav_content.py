"""What a calendar link writes, and how what comes back from the server is compared with it.

Writing: each milestone is one calendar object holding the feed's own VEVENT (adapters.ical, so
both show the same thing); the review series is one object with its VTIMEZONE, the recurring
VEVENT and its overrides; a review held on a day without a meeting gets an object of its own.
Every object is named after its UID (`<uid>.ics`), so a retried or repeated write can only ever
land on the same resource: no duplicates, whatever happens between a PUT and its bookkeeping.

Comparing: servers and clients rewrite objects without changing them — Radicale reorders
properties and changes line endings, clients re-fold lines, add X- properties, alarms and a
fresh DTSTAMP, express a zoned time in UTC. So objects are compared by their normalised *fields*:
the properties leanplan decides (dates, title, description, status, recurrence), unescaped, with
every date-time reduced to the instant it denotes. Anything else a client adds is not a change.

Each object written carries `X-LEANPLAN-BASE`: a digest of each field as leanplan wrote it, and
the start dates literally. Clients keep unknown properties when they edit an event, so an object
that comes back tells by itself what it was before the edit: which fields the calendar changed
(those whose digest no longer matches), and from which date it was moved. That keeps conflict
detection right even when the worker was killed between a write and recording it.

Remote objects are untrusted: size, line count, nesting and component count are bounded, text
must be UTF-8, and nothing is ever expanded (a recurrence rule is compared as text).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from adapters.ical import FeedFilter, content_line, milestone_event, review_components
from domain.calendar_links import CalendarLink
from domain.milestone import Milestone
from domain.plan import Plan
from domain.values import MilestoneStatus
from domain.views import PlanView

PRODID = "-//leanplan//Lean Plan CalDAV sync 1.0//EN"
BASE_PROPERTY = "X-LEANPLAN-BASE"
MAX_OBJECT_BYTES = 1024 * 1024
"""Far above any object leanplan writes (a 10,000-character description is ~12 kB), far below harm."""
MAX_LINES = 20_000
MAX_DEPTH = 6
MAX_COMPONENTS = 2_000
COMPARED = (
    "DTSTART",
    "DTEND",
    "DURATION",
    "SUMMARY",
    "DESCRIPTION",
    "STATUS",
    "RRULE",
    "RDATE",
    "EXDATE",
)
"""The properties leanplan decides; a change to any other (alarms, colours, X-) is not a change."""

_HEAD = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
    + content_line(f"PRODID:{PRODID}")
    + b"CALSCALE:GREGORIAN\r\n"
)
_TAIL = b"END:VCALENDAR\r\n"
_END_EVENT = b"END:VEVENT\r\n"
_DATE = re.compile(r"\d{8}")
_DATE_TIME = re.compile(r"(\d{8})T(\d{6})(Z?)")
_DURATION = re.compile(r"([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
_TZID = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")
_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_UNFOLD = re.compile(r"\r?\n[ \t]")
_UNESCAPE = re.compile(r"\\([\\;,nN])")


class HostileObject(ValueError):
    """A remote object that cannot be used: malformed, too large, too deep, without UID..."""


class ItemKind(StrEnum):
    MILESTONE = "milestone"
    REVIEW = "review"
    REVIEW_HELD = "review_held"


def resource_name(uid: str) -> str:
    """The object's name in the collection: derived from the UID alone, so it never changes."""
    return f"{uid}.ics"


@dataclass(frozen=True)
class Wanted:
    """One object as the plan wants it in the calendar."""

    uid: str
    kind: ItemKind
    subject_id: UUID
    """The milestone, or the plan for the review series and reviews held."""
    body: bytes
    digest: str
    fields: dict[str, str]
    base: str
    """The X-LEANPLAN-BASE the body carries."""


@dataclass(frozen=True)
class Parsed:
    """An object reduced to what is compared: its UID, fields and (if it has one) its base."""

    uid: str
    fields: dict[str, str]
    base: dict[str, str] | None


def review_uid(plan_id: UUID) -> str:
    return str(uuid5(plan_id, "review"))


# Writing.


class Renderer:
    """Builds the wanted objects of a link, keeping each one between passes.

    A milestone's object is kept with the versions it was built from (the milestone's and the
    plan's, whose currency and assumptions it shows), the review series' with the plan's: an
    idle pass over 1,000 milestones is 1,000 dictionary lookups, not 1,000 renders.
    """

    def __init__(self, base_url: str, cancelled_grace: timedelta) -> None:
        self.base_url = base_url
        self.cancelled_grace = cancelled_grace
        self._kept: dict[UUID, tuple[tuple[int, int], Wanted]] = {}
        self._reviews: dict[UUID, tuple[int, list[Wanted]]] = {}

    def wanted(self, view: PlanView, link: CalendarLink, now: datetime) -> dict[str, Wanted]:
        """Every object the link should hold now, by UID: the feed's filter and grace period."""
        plan = view.plan
        feed_filter = FeedFilter(
            link.owner_email, None if link.kinds is None else frozenset(link.kinds)
        )
        wanted: dict[str, Wanted] = {}
        if feed_filter.includes_review:
            for item in self._review(plan):
                wanted[item.uid] = item
        for milestone in view.milestones:
            if feed_filter.includes(milestone) and not self._expired(milestone, now):
                item = self.milestone(milestone, plan)
                wanted[item.uid] = item
        if len(self._kept) > 4 * max(len(view.milestones), 10_000):
            self._kept.clear()  # milestones of plans no longer linked: memory stays bounded
            self._reviews.clear()
        return wanted

    def milestone(self, milestone: Milestone, plan: Plan) -> Wanted:
        built_from = (milestone.version, plan.version)
        kept = self._kept.get(milestone.id)
        if kept is not None and kept[0] == built_from:
            return kept[1]
        event = milestone_event(milestone, plan, base_url=self.base_url)
        item = Wanted(
            str(milestone.id),
            ItemKind.MILESTONE,
            milestone.id,
            *self._wrap(event),
        )
        self._kept[milestone.id] = (built_from, item)
        return item

    def _review(self, plan: Plan) -> list[Wanted]:
        kept = self._reviews.get(plan.id)
        if kept is None or kept[0] != plan.version:
            kept = (plan.version, list(self._review_items(plan)))
            self._reviews[plan.id] = kept
        return kept[1]

    def _review_items(self, plan: Plan) -> Iterator[Wanted]:
        series_uid = review_uid(plan.id)
        timezones, events = _split(review_components(plan, base_url=self.base_url))
        series = [block for uid, block in events if uid == series_uid]
        if series:
            yield Wanted(
                series_uid, ItemKind.REVIEW, plan.id, *self._wrap(b"".join(timezones + series))
            )
        for uid, block in events:
            if uid != series_uid:
                yield Wanted(uid, ItemKind.REVIEW_HELD, plan.id, *self._wrap(block))

    @staticmethod
    def _wrap(components: bytes) -> tuple[bytes, str, dict[str, str], str]:
        """The object around the components, marked with its base; with digest, fields, base."""
        fields = parse_object(_HEAD + components + _TAIL).fields
        base = encode_base(fields)
        body = _HEAD + _with_base(components, base) + _TAIL
        return body, hashlib.sha256(body).hexdigest(), fields, base

    def _expired(self, milestone: Milestone, now: datetime) -> bool:
        return (
            milestone.status == MilestoneStatus.CANCELLED
            and milestone.cancelled_at is not None
            and now - milestone.cancelled_at >= self.cancelled_grace
        )


def _split(rendered: bytes) -> tuple[list[bytes], list[tuple[str, bytes]]]:
    """adapters.ical's review output cut into VTIMEZONE blocks and (UID, VEVENT block) pairs."""
    timezones: list[bytes] = []
    events: list[tuple[str, bytes]] = []
    depth, start, uid = 0, 0, ""
    position = 0
    for line in rendered.splitlines(keepends=True):
        if line.startswith(b"BEGIN:"):
            if depth == 0:
                start, uid = position, ""
            depth += 1
        elif line.startswith(b"END:"):
            depth -= 1
            if depth == 0:
                block = rendered[start : position + len(line)]
                if line.startswith(b"END:VTIMEZONE"):
                    timezones.append(block)
                else:
                    events.append((uid, block))
        elif depth == 1 and line.startswith(b"UID:"):
            uid = line[4:].strip().decode()
        position += len(line)
    return timezones, events


def _with_base(components: bytes, base: str) -> bytes:
    """Puts the base into the first VEVENT (the series' master: overrides follow it)."""
    at = components.index(_END_EVENT)
    return components[:at] + content_line(f"{BASE_PROPERTY}:{base}") + components[at:]


def encode_base(fields: dict[str, str]) -> str:
    """Start dates literally (a move is read from them), every other field as a short digest."""
    parts = []
    for key in sorted(fields):
        value = fields[key]
        shown = value if key.endswith("DTSTART") else _digest(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def base_value(key: str, value: str | None) -> str | None:
    """A field as the base records it, to compare a remote field with its base."""
    if value is None:
        return None
    return value if key.endswith("DTSTART") else _digest(value)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def changed_fields(parsed: Parsed, base: dict[str, str]) -> set[str]:
    """The fields of `parsed` that differ from what leanplan wrote (its base)."""
    keys = set(parsed.fields) | set(base)
    return {key for key in keys if base_value(key, parsed.fields.get(key)) != base.get(key)}


def decode_base(text: str) -> dict[str, str]:
    base = {}
    for part in text.split():
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise HostileObject(f"malformed {BASE_PROPERTY}")
        base[key] = value
    return base


# Reading.


@dataclass
class _Event:
    uid: str | None = None
    recurrence_id: str | None = None
    base: str | None = None
    props: dict[str, list[tuple[dict[str, str], str]]] | None = None


def parse_object(raw: bytes) -> Parsed:
    """One calendar object reduced to its compared fields; HostileObject if it is unusable.

    Every VEVENT must share one UID (RFC 4791 puts one UID per resource); an override's fields
    are keyed `@<recurrence instant>/<name>`.
    """
    if len(raw) > MAX_OBJECT_BYTES:
        raise HostileObject(f"larger than {MAX_OBJECT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HostileObject("not UTF-8") from None
    lines = _UNFOLD.sub("", text).splitlines()
    if len(lines) > MAX_LINES:
        raise HostileObject(f"more than {MAX_LINES} lines")
    events = _events(lines)
    if not events:
        raise HostileObject("no VEVENT")
    uids = {event.uid for event in events}
    if None in uids or len(uids) != 1:
        raise HostileObject("a VEVENT without UID, or several UIDs in one object")
    fields: dict[str, str] = {}
    base: dict[str, str] | None = None
    for event in events:
        prefix = "" if event.recurrence_id is None else f"@{_instants(event.recurrence_id)}/"
        for name, occurrences in (event.props or {}).items():
            fields[prefix + name] = _canonical(name, occurrences)
        if event.recurrence_id is None and event.base is not None:
            base = decode_base(event.base)
    uid = uids.pop()
    assert uid is not None
    return Parsed(uid, fields, base)


def _events(lines: Iterable[str]) -> list[_Event]:
    stack: list[str] = []
    events: list[_Event] = []
    components = 0
    current: _Event | None = None
    for line in lines:
        if not line.strip():
            continue
        name, params, value = _content_line(line)
        if name == "BEGIN":
            components += 1
            if len(stack) >= MAX_DEPTH or components > MAX_COMPONENTS:
                raise HostileObject("too deeply nested or too many components")
            if not stack and value.upper() != "VCALENDAR":
                raise HostileObject("not a VCALENDAR")
            stack.append(value.upper())
            if stack == ["VCALENDAR", "VEVENT"]:
                current = _Event(props={})
                events.append(current)
        elif name == "END":
            if not stack or stack.pop() != value.upper():
                raise HostileObject("components do not nest")
            if len(stack) == 1:
                current = None
        elif not stack:
            raise HostileObject("content outside VCALENDAR")
        elif current is not None and len(stack) == 2:
            _add(current, name, params, value)
    if stack:
        raise HostileObject("an unfinished component")
    return events


def _add(event: _Event, name: str, params: dict[str, str], value: str) -> None:
    if name == "UID":
        event.uid = value.strip()
    elif name == "RECURRENCE-ID":
        event.recurrence_id = _dates(params, value)
    elif name == BASE_PROPERTY:
        event.base = value
    elif name in COMPARED:
        assert event.props is not None
        event.props.setdefault(name, []).append((params, value))


def _content_line(line: str) -> tuple[str, dict[str, str], str]:
    """NAME;PARAM=VALUE;PARAM="QUOTED":VALUE → parts; quoted parameters may hold ':' and ';'."""
    match = re.match(r"[A-Za-z0-9-]+", line)
    if not match:
        raise HostileObject("a content line without a name")
    name = match.group().upper()
    position = match.end()
    params: dict[str, str] = {}
    while position < len(line) and line[position] == ";":
        key_end = line.find("=", position)
        if key_end < 0:
            raise HostileObject("a parameter without a value")
        key = line[position + 1 : key_end].upper()
        if not _NAME.fullmatch(key):
            raise HostileObject("a malformed parameter name")
        position = key_end + 1
        values = []
        while True:
            if line.startswith('"', position):
                close = line.find('"', position + 1)
                if close < 0:
                    raise HostileObject("an unterminated quoted parameter")
                values.append(line[position + 1 : close])
                position = close + 1
            else:
                end = position
                while end < len(line) and line[end] not in ",;:":
                    end += 1
                values.append(line[position:end])
                position = end
            if position < len(line) and line[position] == ",":
                position += 1
                continue
            break
        params[key] = ",".join(values)
    if position >= len(line) or line[position] != ":":
        raise HostileObject("a content line without ':'")
    return name, params, line[position + 1 :]


def _canonical(name: str, occurrences: list[tuple[dict[str, str], str]]) -> str:
    if name in ("DTSTART", "DTEND", "RDATE", "EXDATE"):
        # One value per line or several per line: the same set of instants either way.
        instants = {one for p, v in occurrences for one in _instants(_dates(p, v)).split(",")}
        return ",".join(sorted(instants))
    _, value = occurrences[-1]
    if name == "DURATION":
        return _duration(value)
    if name == "RRULE":
        parts = sorted(part.strip().upper() for part in value.split(";") if part.strip())
        return ";".join(parts)
    if name == "STATUS":
        return value.strip().upper()
    return (
        _UNESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)
        .replace("\r\n", "\n")
        .strip()
    )


def _dates(params: dict[str, str], value: str) -> str:
    """Carries the TZID along with the value(s) until they are reduced to instants."""
    tzid = params.get("TZID", "")
    return f"{tzid}|{value.strip()}"


def _instants(dated: str) -> str:
    """Each value as the instant (or day) it denotes: `D20250301`, `T20250110T090000Z`, or
    `F...` for floating times and `L<zone>/...` for zones nobody can resolve."""
    tzid, _, values = dated.partition("|")
    out = []
    for value in values.split(","):
        value = value.strip().upper()
        if _DATE.fullmatch(value):
            out.append(f"D{value}")
            continue
        if "/" in value:  # an RDATE period: compared as written
            out.append(f"P{value}")
            continue
        match = _DATE_TIME.fullmatch(value)
        if not match:
            raise HostileObject("a malformed date or date-time")
        day, clock, utc = match.groups()
        if utc:
            out.append(f"T{value}")
            continue
        zone = _zone(tzid) if tzid else None
        if tzid and zone is None:
            out.append(f"L{tzid}/{value}")
        elif zone is None:
            out.append(f"F{value}")
        else:
            try:
                local = datetime.strptime(day + clock, "%Y%m%d%H%M%S").replace(tzinfo=zone)
            except ValueError:
                raise HostileObject("an impossible date-time") from None
            out.append("T" + local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return ",".join(sorted(out))


@lru_cache(maxsize=512)
def _zone(tzid: str) -> ZoneInfo | None:
    name = tzid.strip('"')
    if not _TZID.fullmatch(name) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):
        return None


def _duration(value: str) -> str:
    match = _DURATION.fullmatch(value.strip().upper())
    if not match or value.strip().upper() in ("P", "PT", "-P", "+P"):
        raise HostileObject("a malformed duration")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    total = (
        int(weeks or 0) * 604800 + int(days or 0) * 86400 + int(hours or 0) * 3600
        + int(minutes or 0) * 60 + int(seconds or 0)
    )  # fmt: skip
    return f"S{-total if sign == '-' else total}"


def start_day(instant: str, zone: str) -> date:
    """The day a DTSTART falls on in the plan's zone: an all-day date as it is, a time by zone."""
    first = instant.split(",")[0]
    if first.startswith("D"):
        return _parse_day(first[1:])
    return start_moment(first, zone)[0]


def start_moment(instant: str, zone: str) -> tuple[date, time]:
    """A start as local date and time in the plan's zone (the review meeting is kept that way)."""
    first = instant.split(",")[0]
    kind, value = first[0], first[1:]
    if kind == "D":
        return _parse_day(value), time(0, 0)
    if kind == "L":
        value = value.rsplit("/", 1)[1]
    match = _DATE_TIME.fullmatch(value)
    if not match:
        raise HostileObject("a malformed start")
    moment = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
    if kind == "T":
        moment = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return moment.date(), moment.time()


def _parse_day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise HostileObject("an impossible date") from None
