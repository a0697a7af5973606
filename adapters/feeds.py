"""Feed subscriptions: their secret tokens, finding a feed by its token, and fetch statistics.

A token is `secrets.token_urlsafe(32)`: 256 random bits, URL-safe. The plan records only its
SHA-256 (a fast hash suffices for that much entropy), and the application files the feed under
that hash (`Leanplan.feed_by_token_hash`), so a fetch finds its plan with one keyed read instead
of scanning plans; the final comparison of hashes is constant-time all the same.

Fetch statistics (when, how often, which client, 200 or 304) live in a small table beside the
event store, not in the plan's history: a poll is not a decision about the plan, arrives every
hour from every subscriber, and — recorded as an event — would change the very plan version and
Last-Modified that the poll is compared against, so no poll could ever be answered 304. They are
gathered in memory and written every few seconds, because a commit (an fsync) would otherwise
cost more than all the rest of a 304 answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from threading import Lock, Timer
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import EventSourcingError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from adapters.ical import FeedFilter
from domain.application import Leanplan
from domain.errors import FeedNotFound
from domain.plan import Feed, Plan

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
FLUSH_SECONDS = 5.0
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what token_urlsafe(32) produces, nothing else
MAX_USER_AGENT = 512
_SCHEMA_LOCK = 7_340_213
"""The PostgreSQL advisory lock key that serialises creating the fetch table."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedFeed:
    """A new feed and its token: the only time the token exists outside the subscriber's hands."""

    feed: Feed
    token: str


def create_feed(
    app: Leanplan,
    plan_id: UUID,
    name: str,
    *,
    actor: str,
    owner_email: str | None = None,
    kinds: tuple[str, ...] | None = None,
) -> CreatedFeed:
    token = new_token()
    feed_id = app.create_feed(
        plan_id, name, token_hash=hash_token(token), actor=actor, owner_email=owner_email,
        kinds=kinds,
    )  # fmt: skip
    return CreatedFeed(app.plan(plan_id).plan.feed(feed_id), token)


def filter_of(feed: Feed) -> FeedFilter:
    """The filter a feed's subscription asks for; the UI's preview renders with it too."""
    kinds = None if feed.kinds is None else frozenset(feed.kinds)
    return FeedFilter(feed.owner_email, kinds)


def digest_of(token: str) -> str | None:
    """The hash a feed is filed under; None for a string no token could be."""
    return hash_token(token) if _TOKEN.fullmatch(token) else None


def find_feed(app: Leanplan, token: str) -> tuple[Plan, Feed] | None:
    """The live feed a token opens, with its plan; None for malformed, unknown and revoked tokens
    alike, so a caller cannot tell them apart."""
    digest = digest_of(token)
    return None if digest is None else find_feed_by_digest(app, digest)


def find_feed_by_digest(app: Leanplan, digest: str) -> tuple[Plan, Feed] | None:
    """The live feed filed under a token's hash, with its plan; None for unknown and revoked."""
    try:
        plan, feed = app.feed_by_token_hash(digest)
    except FeedNotFound:
        return None
    return (plan, feed) if hmac.compare_digest(feed.token_hash, digest) else None


@dataclass(frozen=True)
class Fetches:
    """What the feed debug page shows: has any client polled, which one, and what did it get."""

    count: int = 0
    last_fetched_at: datetime | None = None
    last_user_agent: str | None = None
    last_status: int | None = None

    def adding(self, later: Fetches) -> Fetches:
        """These fetches followed by `later` ones: counts add up, the latest one is the last."""
        return Fetches(
            self.count + later.count, later.last_fetched_at, later.last_user_agent, later.last_status
        )


class FetchLog(Protocol):
    def record(self, feed_id: UUID, at: datetime, user_agent: str, status: int) -> None: ...

    def get(self, feed_ids: list[UUID]) -> dict[UUID, Fetches]: ...


class MemoryFetchLog:
    """For an in-memory store: the statistics live as long as the process, as the plans do."""

    def __init__(self) -> None:
        self._fetches: dict[UUID, Fetches] = {}
        self._lock = Lock()

    def record(self, feed_id: UUID, at: datetime, user_agent: str, status: int) -> None:
        self.add({feed_id: Fetches(1, at, user_agent[:MAX_USER_AGENT], status)})

    def add(self, fetches: dict[UUID, Fetches]) -> None:
        with self._lock:
            for feed_id, later in fetches.items():
                self._fetches[feed_id] = self._fetches.get(feed_id, Fetches()).adding(later)

    def get(self, feed_ids: list[UUID]) -> dict[UUID, Fetches]:
        return {i: self._fetches[i] for i in feed_ids if i in self._fetches}

    def all(self) -> dict[UUID, Fetches]:
        with self._lock:
            return dict(self._fetches)


class BufferedFetchLog:
    """Gathers fetches in memory and hands them to a stored log at most every `seconds`.

    A timer flushes what is pending even when no further request comes; reading flushes first,
    so this process's own fetches are always counted. A failed write (the store busy or closed)
    is kept and retried with the next fetch's, not in a loop.
    """

    def __init__(self, stored: SQLFetchLog, seconds: float = FLUSH_SECONDS) -> None:
        self._stored = stored
        self._seconds = seconds
        self._pending = MemoryFetchLog()
        self._lock = Lock()
        self._timer: Timer | None = None

    def record(self, feed_id: UUID, at: datetime, user_agent: str, status: int) -> None:
        with self._lock:
            self._pending.record(feed_id, at, user_agent, status)
            self._schedule()

    def get(self, feed_ids: list[UUID]) -> dict[UUID, Fetches]:
        self.flush()
        return self._stored.get(feed_ids)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, MemoryFetchLog()
            self._timer = None
        gathered = pending.all()
        if not gathered:
            return
        try:
            self._stored.add(gathered)
        except EventSourcingError as error:
            log.warning("feed fetch statistics not written (%d feeds), kept: %s", len(gathered), error)
            with self._lock:
                newer, self._pending = self._pending.all(), MemoryFetchLog()
                self._pending.add(gathered)
                self._pending.add(newer)

    def _schedule(self) -> None:
        """Starts the flush timer unless one is running; the caller holds the lock."""
        if self._timer is None:
            self._timer = Timer(self._seconds, self.flush)
            self._timer.daemon = True
            self._timer.start()


_UPSERT = (
    "INSERT INTO leanplan_feed_fetches VALUES (?, ?, ?, ?, ?) ON CONFLICT (feed_id) DO UPDATE SET "
    "fetch_count = leanplan_feed_fetches.fetch_count + excluded.fetch_count, "
    "last_fetched_at = excluded.last_fetched_at, last_user_agent = excluded.last_user_agent, "
    "last_status = excluded.last_status"
)


class SQLFetchLog:
    """One row per feed in the store's own database (SQLite or PostgreSQL), upserted.

    It shares the event store's connections, so it needs no settings of its own, and all the
    application's workers see the same figures.
    """

    def __init__(self, datastore: Any, placeholder: str) -> None:
        self._datastore = datastore
        self._placeholder = placeholder
        with self._datastore.transaction(commit=True) as cursor:
            if placeholder == "%s":  # PostgreSQL: web workers booting together on an empty database
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS leanplan_feed_fetches (feed_id TEXT PRIMARY KEY, "
                "fetch_count BIGINT NOT NULL, last_fetched_at TEXT NOT NULL, "
                "last_user_agent TEXT NOT NULL, last_status INTEGER NOT NULL)"
            )

    def add(self, fetches: dict[UUID, Fetches]) -> None:
        """Adds gathered fetches, one row per feed, in one transaction."""
        with self._datastore.transaction(commit=True) as cursor:
            for feed_id, later in fetches.items():
                assert later.last_fetched_at is not None
                cursor.execute(
                    self._sql(_UPSERT),
                    (str(feed_id), later.count, later.last_fetched_at.isoformat(),
                     later.last_user_agent, later.last_status),
                )  # fmt: skip

    def get(self, feed_ids: list[UUID]) -> dict[UUID, Fetches]:
        if not feed_ids:
            return {}
        marks = ", ".join("?" * len(feed_ids))
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self._sql(
                    "SELECT feed_id, fetch_count, last_fetched_at, last_user_agent, last_status "
                    f"FROM leanplan_feed_fetches WHERE feed_id IN ({marks})"
                ),
                [str(i) for i in feed_ids],
            )
            rows = [tuple(r.values()) if isinstance(r, dict) else r for r in cursor.fetchall()]
        return {
            UUID(feed_id): Fetches(int(count), datetime.fromisoformat(at), agent, int(status))
            for feed_id, count, at, agent, status in rows
        }

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._placeholder)


def fetch_log_for(app: Leanplan, flush_seconds: float = FLUSH_SECONDS) -> FetchLog:
    """The fetch log that matches the application's store."""
    datastore = getattr(app.recorder, "datastore", None)
    if isinstance(datastore, PostgresDatastore):
        return BufferedFetchLog(SQLFetchLog(datastore, "%s"), flush_seconds)
    if isinstance(datastore, SQLiteDatastore):
        return BufferedFetchLog(SQLFetchLog(datastore, "?"), flush_seconds)
    return MemoryFetchLog()
