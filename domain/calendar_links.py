"""Calendar links: a plan's milestones and review meeting kept in someone's CalDAV calendar.

The link itself (where, as whom, which direction, which filters, who wins a conflict) is part of
the plan, recorded by `Plan.CalendarLinked` / `Plan.CalendarUnlinked`, so the history says who
linked which calendar and when. Its password is not: events are immutable, exported and shown,
so the secret lives encrypted beside the event store (adapters.secrets), keyed by the link's id.

What a sync observes is recorded as events on the thing concerned — a milestone, or the plan for
its review series — with the actor `calendar:<link name>`:

- `CalendarConflictResolved`: both sides moved the date since the last sync; which value each
  side had, and which one the link's conflict policy kept;
- `CalendarDeletionNoted`: the event was deleted in the calendar. This never cancels anything:
  a calendar is a view of the plan, and deleting an entry there is not a decision about the
  plan, so the next push puts the event back;
- `CalendarEditOverwritten`: the calendar changed something only the plan decides (title,
  description, status...); the next push restores the plan's version.

A moved date is not a note but an ordinary `MilestoneRescheduled` (or `ReviewOccurrenceMoved`)
with that actor and the reason "moved in calendar <name>".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain import values
from domain.errors import InvalidInput, NotFound
from domain.values import Kind

MAX_URL = 2_000
MAX_USERNAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACE = re.compile(r"\s")
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)"
    r"(?P<query>\?[^#]*)?(?P<fragment>#.*)?"
)
_HOST = re.compile(
    r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>\d{1,5}))?"
)


class CalendarLinkNotFound(NotFound):
    pass


class Direction(StrEnum):
    """`push` only writes to the calendar; `two_way` also reads moves back into the plan."""

    PUSH = "push"
    TWO_WAY = "two_way"


class ConflictPolicy(StrEnum):
    """Who keeps the date when both sides moved it since the last sync."""

    PLAN_WINS = "plan_wins"
    CALENDAR_WINS = "calendar_wins"


class Winner(StrEnum):
    PLAN = "plan"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class CalendarLink:
    """One calendar collection the plan is written to, and the filters that pick what goes there."""

    id: UUID
    name: str
    url: str
    username: str
    direction: Direction
    owner_email: str | None
    kinds: tuple[Kind, ...] | None
    conflict_policy: ConflictPolicy
    created_at: datetime
    created_by: str

    @property
    def actor(self) -> str:
        """Who the history names for what this link brings back from the calendar."""
        return f"calendar:{self.name}"

    @property
    def moved_reason(self) -> str:
        return f"moved in calendar {self.name}"

    @property
    def two_way(self) -> bool:
        return self.direction is Direction.TWO_WAY


def link_name(value: str) -> str:
    stripped = value.strip()
    if not stripped or len(stripped) > values.MAX_TITLE or _CONTROL.search(stripped):
        raise InvalidInput(
            f"a link name has 1 to {values.MAX_TITLE} printable characters", field="name"
        )
    return stripped


def collection_url(value: str) -> str:
    """An absolute http(s) URL of a calendar collection, without credentials in it.

    Credentials in a URL would end up in the plan's history, so they are refused rather than
    silently stripped; the path gets a trailing slash, as collections are addressed with one.
    """
    url = value.strip()
    parts = _URL.fullmatch(url)
    if len(url) > MAX_URL or _CONTROL.search(url) or _SPACE.search(url) or parts is None:
        raise InvalidInput("not a usable calendar URL", field="url")
    scheme, authority = parts["scheme"].lower(), parts["authority"]
    if scheme not in ("http", "https"):
        raise InvalidInput(
            "the calendar URL must be an absolute http:// or https:// URL", field="url"
        )
    if "@" in authority:
        raise InvalidInput(
            "put the user name and password in their own fields, not in the URL", field="url"
        )
    host = _HOST.fullmatch(authority)
    if host is None or host["port"] is not None and not 0 < int(host["port"]) < 65536:
        raise InvalidInput("the calendar URL names no usable host", field="url")
    if parts["fragment"] is not None:
        raise InvalidInput("a calendar URL has no '#' part", field="url")
    path = parts["path"] or "/"
    path = path if path.endswith("/") else path + "/"
    return f"{scheme}://{authority}{path}{parts['query'] or ''}"


def username(value: str) -> str:
    if len(value) > MAX_USERNAME or _CONTROL.search(value) or ":" in value:
        raise InvalidInput("not a usable user name", field="username")
    return value
