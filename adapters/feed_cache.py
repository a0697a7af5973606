"""Feed answers kept per token, so that a poll of an unchanged plan reads no plan at all.

Subscribers poll every hour whether or not anything changed, so nearly every request is for a
feed that is already rendered. A kept answer — body, ETag, Last-Modified — is trusted while two
things hold: the event store has no notification newer than when it was made (one indexed
`MAX` query; every write by any process moves it, a revocation or an edit as much as a write to
another plan), and no cancelled milestone's grace period has ended since (the only way the clock
changes a feed). Anything else takes the long way — the token looked up, the plan read, the feed
rendered, where the renderer still reuses every unchanged component — and the answer is kept
again. The store's position is read before the plan, so a write landing in between makes the
next poll take the long way too.

Answers are kept under the token's hash, as the store files feeds: how long a lookup takes can
tell nothing about a token to someone who does not already hold one that hashes alike.
"""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from threading import Lock, local
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore
from werkzeug.http import http_date

from adapters.feeds import digest_of, filter_of, find_feed_by_digest
from adapters.ical import FeedFormat, FeedRenderer
from domain.application import Leanplan

KEPT_ANSWERS = 10_000
"""Answers kept per process, one per live feed and format polled; the oldest made goes first."""


@dataclass
class FeedAnswer:
    """One feed as served, and what it stays valid for; a later answer with the very same body
    takes over its ETag and gzipped bytes instead of making them again."""

    feed_id: UUID
    plan_id: UUID
    body: bytes
    etag: str
    last_modified: datetime
    position: int
    valid_until: datetime | None
    _gzipped: bytes | None = field(default=None, repr=False)

    @cached_property
    def last_modified_http(self) -> str:
        return http_date(self.last_modified)

    @property
    def gzipped(self) -> bytes:
        """The body gzipped, made on first use (many clients never ask) and without a timestamp,
        so every process makes the same bytes."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, mtime=0)
        return self._gzipped

    def fresh(self, position: int, now: datetime) -> bool:
        return position == self.position and (self.valid_until is None or now < self.valid_until)


class FeedAnswers:
    """The answer to a poll, from what is kept when that is still true, else made anew.

    Dict reads and writes are atomic, so threads share it; a lock only keeps the size in check.
    """

    def __init__(self, app: Leanplan, renderer: FeedRenderer, size: int = KEPT_ANSWERS) -> None:
        self._app = app
        self._position = position_reader(app)
        self.renderer = renderer
        self._size = size
        self._kept: dict[tuple[str, FeedFormat], FeedAnswer] = {}
        self._lock = Lock()

    def answer(self, token: str, format: FeedFormat, now: datetime) -> FeedAnswer | None:
        """The feed the token opens; None for malformed, unknown and revoked tokens alike."""
        digest = digest_of(token)
        if digest is None:
            return None
        position = self._position()
        kept = self._kept.get((digest, format))
        if kept is not None and kept.fresh(position, now):
            return kept
        made = self._make(digest, format, now, position, kept)
        with self._lock:
            self._kept.pop((digest, format), None)
            if made is not None:
                self._kept[(digest, format)] = made
                while len(self._kept) > self._size:
                    del self._kept[next(iter(self._kept))]
        return made

    def _make(
        self, digest: str, format: FeedFormat, now: datetime, position: int, kept: FeedAnswer | None
    ) -> FeedAnswer | None:
        found = find_feed_by_digest(self._app, digest)
        if found is None:
            return None
        plan, subscription = found
        view = self._app.plan(plan.id)
        feed_filter = filter_of(subscription)
        body = self.renderer.render(view, now=now, feed_filter=feed_filter, format=format)
        same = kept if kept is not None and kept.body is body else None  # the renderer kept it
        return FeedAnswer(
            feed_id=subscription.id,
            plan_id=plan.id,
            body=body,
            etag=same.etag if same else hashlib.sha256(body).hexdigest()[:32],
            last_modified=self.renderer.last_modified(view, now=now),
            position=position,
            valid_until=self.renderer.next_expiry(view, now=now),
            _gzipped=same._gzipped if same else None,
        )


def position_reader(app: Leanplan) -> Callable[[], int]:
    """The cheapest read of the store's newest notification id (0 when there is none)."""
    datastore = getattr(app.recorder, "datastore", None)
    if isinstance(datastore, SQLiteDatastore) and not datastore.pool.is_sqlite_memory_mode:
        table: str = app.recorder.events_table_name  # type: ignore[attr-defined]
        return SQLitePosition(datastore.pool.db_name, table, datastore.pool.lock_timeout)
    return lambda: app.recorder.max_notification_id() or 0


class SQLitePosition:
    """`MAX(rowid)` of the events table on a connection of this thread's own, in autocommit.

    The recorder's `max_notification_id` runs the same query inside a pooled, explicitly begun
    and rolled back transaction, which costs several times the query itself — and this read is
    most of what a poll of an unchanged plan costs. Each statement is its own read transaction
    in WAL mode, so it sees every commit, by any process, that finished before it began.
    """

    def __init__(self, path: str, table: str, timeout: float | None) -> None:
        self._path = path
        self._query = f"SELECT MAX(rowid) FROM {table}"
        self._timeout = timeout or 5.0
        self._threads = local()

    def __call__(self) -> int:
        connection: sqlite3.Connection | None = getattr(self._threads, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self._path, uri=True, isolation_level=None, timeout=self._timeout
            )
            self._threads.connection = connection
        ((position,),) = connection.execute(self._query).fetchall()
        return int(position or 0)
