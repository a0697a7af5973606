"""The sync worker's own tables, in the event store's database (SQLite or PostgreSQL).

- `leanplan_caldav_tracking`: how far the worker has read the notification log;
- `leanplan_caldav_links`: each link the log has announced, with what the API shows (state, last
  sync, last error, items in sync), the sync token, and whether local changes wait to be pushed
  (`needs_push` counts the stretches of log that changed the plan since a pass last served
  them, so a pass clears only what it saw: see `claim` and `finish`);
- `leanplan_caldav_items`: per link and UID, what the server holds as far as the worker knows:
  the ETag and the digest of the body last written (NULLs: nothing there, create it).

The tracking position moves in the same transaction that flags links for a push, so a restart
neither misses a change nor needs to rescan the log. Item rows are written after the server
has answered; a crash in between leaves a write unrecorded, which the next pass finds again
(a create answered 412, an update whose ETag moved) and recognises as its own (see
adapters.caldav_content), so it is at-least-once on the wire and exactly-once in effect.

Several workers may share these tables: a link's rows are written only by the worker holding
that link's lock, and the log position only by the one holding the log's (adapters.caldav_locks).
The tables are created under a transaction-scoped advisory lock on PostgreSQL, where two
processes racing through `CREATE TABLE IF NOT EXISTS` would otherwise collide in its catalog.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from domain.application import Leanplan

TRACKING_NAME = "caldav-sync"
SCHEMA_LOCK = 7_340_212
"""The advisory lock key (PostgreSQL) that serialises creating the side tables."""


class UnsupportedStore(Exception):
    """Calendar sync keeps its state beside the events: it needs SQLite or PostgreSQL."""


class SideDatabase:
    """Tables beside the event store, sharing its connections (so no settings of their own)."""

    def __init__(self, app: Leanplan) -> None:
        datastore = getattr(app.recorder, "datastore", None)
        if isinstance(datastore, PostgresDatastore):
            self.placeholder, self.big = "%s", "BIGINT"
        elif isinstance(datastore, SQLiteDatastore):
            self.placeholder, self.big = "?", "INTEGER"
        else:
            raise UnsupportedStore(
                "calendar links need a SQLite or PostgreSQL store (DATABASE_URL)"
            )
        self._datastore = datastore

    @contextmanager
    def transaction(self) -> Iterator[_Cursor]:
        with self._datastore.transaction(commit=True) as cursor:
            yield _Cursor(cursor, self.placeholder)

    @contextmanager
    def schema(self) -> Iterator[_Cursor]:
        """A transaction for creating tables, one process at a time (SQLite's write lock does
        that by itself)."""
        with self.transaction() as cursor:
            if isinstance(self._datastore, PostgresDatastore):
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            yield cursor


class _Cursor:
    """Writes `?` placeholders whatever the driver wants, and returns rows as tuples."""

    def __init__(self, cursor: Any, placeholder: str) -> None:
        self._cursor = cursor
        self._placeholder = placeholder

    def execute(self, statement: str, parameters: Iterable[Any] = ()) -> None:
        self._cursor.execute(statement.replace("?", self._placeholder), tuple(parameters))

    def executemany(self, statement: str, rows: Iterable[Iterable[Any]]) -> None:
        self._cursor.executemany(
            statement.replace("?", self._placeholder), [tuple(r) for r in rows]
        )

    def rows(self) -> list[tuple[Any, ...]]:
        return [
            tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in self._cursor.fetchall()
        ]


@dataclass(frozen=True)
class LinkState:
    link_id: UUID
    plan_id: UUID
    name: str
    url: str
    username: str
    active: bool
    remove_items: bool
    needs_push: bool
    sync_token: str | None
    sync_mode: str | None
    status: str
    last_sync_at: datetime | None
    last_error: str | None
    failures: int
    next_attempt_at: datetime | None
    items_in_sync: int


@dataclass(frozen=True)
class Claim:
    """A link as read by the worker that holds its lock, before it reads the plan."""

    link: LinkState
    push_requests: int
    """How many changes the log had announced by then: what a successful pass may clear."""


@dataclass(frozen=True)
class ItemState:
    uid: str
    etag: str | None
    digest: str | None
    """sha256 of the body last written; None when the server holds something else or nothing."""
    present: bool
    """Whether the object is on the server as far as we know (a remote deletion clears it)."""
    base: str | None
    """The X-LEANPLAN-BASE last written: what a remote edit is measured against when the client
    dropped the property from the object."""


class Status:
    PENDING = "pending"
    OK = "ok"
    RETRYING = "retrying"
    FAILING = "failing"


_LINK_COLUMNS = (
    "link_id, plan_id, name, url, username, active, remove_items, needs_push, sync_token, "
    "sync_mode, status, last_sync_at, last_error, failures, next_attempt_at, items_in_sync"
)
_NEEDS_PUSH = _LINK_COLUMNS.split(", ").index("needs_push")


class SyncState:
    def __init__(self, database: SideDatabase) -> None:
        self.db = database
        with self.db.schema() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS leanplan_caldav_tracking ("
                f"name TEXT PRIMARY KEY, notification_id {database.big} NOT NULL)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS leanplan_caldav_links ("
                "link_id TEXT PRIMARY KEY, plan_id TEXT NOT NULL, name TEXT NOT NULL, "
                "url TEXT NOT NULL, username TEXT NOT NULL, active INTEGER NOT NULL, "
                "remove_items INTEGER NOT NULL, needs_push INTEGER NOT NULL, sync_token TEXT, "
                "sync_mode TEXT, status TEXT NOT NULL, last_sync_at TEXT, last_error TEXT, "
                "failures INTEGER NOT NULL, next_attempt_at TEXT, items_in_sync INTEGER NOT NULL)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS leanplan_caldav_items ("
                "link_id TEXT NOT NULL, uid TEXT NOT NULL, etag TEXT, digest TEXT, "
                "present INTEGER NOT NULL, base TEXT, PRIMARY KEY (link_id, uid))"
            )

    # Following the log.

    def position(self) -> int:
        with self.db.transaction() as cursor:
            cursor.execute(
                "SELECT notification_id FROM leanplan_caldav_tracking WHERE name = ?",
                (TRACKING_NAME,),
            )
            rows = cursor.rows()
        return int(rows[0][0]) if rows else 0

    def advance(
        self,
        position: int,
        *,
        linked: Iterable[tuple[UUID, UUID, str, str, str]],
        unlinked: Iterable[tuple[UUID, bool]],
        changed_plans: Iterable[UUID],
    ) -> None:
        """Records what a stretch of the log announced, and how far it was read, atomically."""
        with self.db.transaction() as cursor:
            for link_id, plan_id, name, url, username in linked:
                cursor.execute(
                    f"INSERT INTO leanplan_caldav_links ({_LINK_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, 1, 0, 1, NULL, NULL, ?, NULL, NULL, 0, NULL, 0) "
                    "ON CONFLICT (link_id) DO NOTHING",
                    (str(link_id), str(plan_id), name, url, username, Status.PENDING),
                )
            for link_id, remove_items in unlinked:
                cursor.execute(
                    "UPDATE leanplan_caldav_links SET active = 0, remove_items = ?, "
                    "needs_push = needs_push + 1, next_attempt_at = NULL WHERE link_id = ?",
                    (int(remove_items), str(link_id)),
                )
            for plan_id in changed_plans:
                cursor.execute(
                    "UPDATE leanplan_caldav_links SET needs_push = needs_push + 1 "
                    "WHERE plan_id = ? AND active = 1",
                    (str(plan_id),),
                )
            cursor.execute(
                "INSERT INTO leanplan_caldav_tracking (name, notification_id) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET notification_id = excluded.notification_id",
                (TRACKING_NAME, position),
            )

    # Links.

    def links(self, plan_id: UUID | None = None) -> list[LinkState]:
        where, parameters = ("WHERE plan_id = ?", (str(plan_id),)) if plan_id else ("", ())
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT {_LINK_COLUMNS} FROM leanplan_caldav_links {where}", parameters)
            rows = cursor.rows()
        return [_link(row) for row in rows]

    def link(self, link_id: UUID) -> LinkState | None:
        claim = self.claim(link_id)
        return claim.link if claim else None

    def claim(self, link_id: UUID) -> Claim | None:
        """The link afresh, for the worker that has just taken its lock; None if it is gone."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {_LINK_COLUMNS} FROM leanplan_caldav_links WHERE link_id = ?",
                (str(link_id),),
            )
            rows = cursor.rows()
        return Claim(_link(rows[0]), int(rows[0][_NEEDS_PUSH])) if rows else None

    def finish(
        self,
        link_id: UUID,
        *,
        status: str,
        at: datetime,
        error: str | None,
        failures: int,
        next_attempt_at: datetime | None,
        served: int = 0,
        items_in_sync: int | None = None,
        synced: bool = False,
    ) -> None:
        """Ends a pass over a link: what the API shows, and whether changes still wait.

        `served` is the claim's `push_requests` when the pass pushed the plan, else 0: changes
        announced after the claim (by another worker following the log meanwhile) still wait.
        """
        with self.db.transaction() as cursor:
            cursor.execute(
                "UPDATE leanplan_caldav_links SET status = ?, last_error = ?, failures = ?, "
                "next_attempt_at = ?, "
                "needs_push = CASE WHEN needs_push > ? THEN needs_push - ? ELSE 0 END, "
                "items_in_sync = COALESCE(?, items_in_sync), "
                "last_sync_at = CASE WHEN ? = 1 THEN ? ELSE last_sync_at END WHERE link_id = ?",
                (
                    status, error, failures, next_attempt_at and next_attempt_at.isoformat(),
                    served, served, items_in_sync, int(synced), at.isoformat(), str(link_id),
                ),
            )  # fmt: skip

    def set_sync(self, link_id: UUID, *, token: str | None, mode: str | None) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                "UPDATE leanplan_caldav_links SET sync_token = ?, sync_mode = ? WHERE link_id = ?",
                (token, mode, str(link_id)),
            )

    def forget(self, link_id: UUID) -> None:
        """Drops a link that is unlinked and done with."""
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM leanplan_caldav_items WHERE link_id = ?", (str(link_id),))
            cursor.execute("DELETE FROM leanplan_caldav_links WHERE link_id = ?", (str(link_id),))

    # Items.

    def items(self, link_id: UUID) -> dict[str, ItemState]:
        with self.db.transaction() as cursor:
            cursor.execute(
                "SELECT uid, etag, digest, present, base FROM leanplan_caldav_items WHERE link_id = ?",
                (str(link_id),),
            )
            rows = cursor.rows()
        return {row[0]: ItemState(row[0], row[1], row[2], bool(row[3]), row[4]) for row in rows}

    def record(
        self,
        link_id: UUID,
        changed: Iterable[ItemState],
        removed: Iterable[str] = (),
        *,
        token: tuple[str | None, str | None] | None = None,
    ) -> None:
        """Item states after the server answered, and the sync token they bring us to, at once."""
        with self.db.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO leanplan_caldav_items (link_id, uid, etag, digest, present, base) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (link_id, uid) DO UPDATE SET "
                "etag = excluded.etag, digest = excluded.digest, present = excluded.present, "
                "base = excluded.base",
                [(str(link_id), i.uid, i.etag, i.digest, int(i.present), i.base) for i in changed],
            )
            cursor.executemany(
                "DELETE FROM leanplan_caldav_items WHERE link_id = ? AND uid = ?",
                [(str(link_id), uid) for uid in removed],
            )
            if token is not None:
                cursor.execute(
                    "UPDATE leanplan_caldav_links SET sync_token = ?, sync_mode = ? WHERE link_id = ?",
                    (token[0], token[1], str(link_id)),
                )


def _link(row: tuple[Any, ...]) -> LinkState:
    (link_id, plan_id, name, url, username, active, remove_items, needs_push, token, mode,
     status, last_sync_at, last_error, failures, next_attempt_at, items_in_sync) = row  # fmt: skip
    return LinkState(
        UUID(link_id), UUID(plan_id), name, url, username, bool(active), bool(remove_items),
        bool(needs_push), token, mode, status, _moment(last_sync_at), last_error, int(failures),
        _moment(next_attempt_at), int(items_in_sync),
    )  # fmt: skip


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
