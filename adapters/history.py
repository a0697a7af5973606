"""The history read side: every plan change projected from the notification log into a table.

Catching up picks only the index columns out of each stored event's JSON; when a page is read,
one SELECT joins its rows to their stored events (by the event store's primary key, originator id
and version) and the events are decoded with the domain's own `entry_from`. That keeps the replay
close to the speed of reading the log, one derivation of history, and a page to two reads however
many aggregates it spans: whether the table has caught up (a catch-up, with its write transaction
and lock, only when it has not), then the page. The table keeps no copy of the events, so its
schema is the one it always had: an existing table is read as it is, nothing to migrate or rebuild.

The columns are found by pattern rather than by parsing the whole JSON document (which alone
halves the replay rate). That is sound because inside a JSON string every quote is escaped, so
`"actor":"` can only match the top-level key; the tests compare every page with the domain's.
Times are kept as the ISO text the event store wrote, always UTC, so they sort as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import Identifier

from domain.application import Leanplan
from domain.history import HistoryEntry, HistoryFilter, HistoryPage, entry_from

PAGE = 5_000
_PLANS_REMEMBERED = 100_000
_TIMESTAMP = re.compile(rb'"timestamp":\{"_type_":"datetime_iso","_data_":"([^"]+)"')
_ACTOR = re.compile(rb'"actor":"((?:[^"\\]|\\.)*)"')
_PLAN_ID = re.compile(rb'"plan_id":\{"_type_":"uuid_hex","_data_":"([0-9a-f]{32})"')
_PLAN_TOPIC = "domain.plan:Plan."
_MILESTONE_TOPIC = "domain.milestone:Milestone."
_LOCK_KEY = 7_340_211  # advisory lock id shared by every process that catches up on PostgreSQL

_COLUMNS = "plan_id, position, at, origin, version, type, actor, milestone_id"
_INSERT = f"INSERT INTO leanplan_history ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def utc_text(moment: datetime) -> str:
    """The event store's own spelling of a moment, so filters compare with stored times as text."""
    return moment.astimezone(UTC).isoformat()


def _text(raw: bytes) -> str:
    return str(json.loads(b'"' + raw + b'"'))


def _kind_of(topic: str) -> tuple[str, bool] | None:
    """The history type of a topic and whether it is a milestone's; None for non-plan events."""
    if topic.startswith(_PLAN_TOPIC):
        return topic.rsplit(".", 1)[1], False
    if topic.startswith(_MILESTONE_TOPIC):
        return topic.rsplit(".", 1)[1], True
    return None


class HistoryReadModel:
    """One table of entries plus one tracking row; both change in the same transaction."""

    integer = "INTEGER"
    notification_id_column = "rowid"

    def __init__(self, app: Leanplan) -> None:
        self.app = app
        self.datastore: Any = app.recorder.datastore  # type: ignore[attr-defined]
        self._kinds: dict[str, tuple[str, bool] | None] = {}
        self._plans: dict[str, str] = {}  # milestone -> plan; a milestone never changes plan
        self._create_tables()

    def _sql(self, statement: str) -> str:
        return statement

    def _events_table(self) -> str:
        return str(self.app.recorder.events_table_name)  # type: ignore[attr-defined]

    def _stored_origin(self) -> str:
        """The history row's origin as the event store spells an originator id (hex text)."""
        return "h.origin"

    def _create_tables(self) -> None:
        with self._transaction() as cursor:
            self._lock(cursor)  # web workers booting together on an empty PostgreSQL database
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS leanplan_history ("
                f"plan_id TEXT NOT NULL, position {self.integer} NOT NULL, at TEXT NOT NULL, "
                f"origin TEXT NOT NULL, version {self.integer} NOT NULL, type TEXT NOT NULL, "
                "actor TEXT NOT NULL, milestone_id TEXT)"
            )
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS leanplan_history_plan_position "
                "ON leanplan_history (plan_id, position)"
            )
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS leanplan_history_tracking ("
                "name TEXT PRIMARY KEY, notification_id BIGINT NOT NULL)"
            )

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def _lock(self, cursor: Any) -> None:
        """Serialises catch-ups from several processes; SQLite's write lock does it there."""

    def _rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in cursor.fetchall()]

    def _read(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of one read-only statement, in a transaction of its own."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), params)
            return self._rows(cursor)

    def reset(self) -> None:
        """Forgets everything projected, so the next catch-up replays the whole log."""
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM leanplan_history")
            cursor.execute("DELETE FROM leanplan_history_tracking")

    def position(self) -> int:
        with self._transaction() as cursor:
            return self._tracked(cursor)

    def _tracked(self, cursor: Any) -> int:
        cursor.execute(
            self._sql("SELECT notification_id FROM leanplan_history_tracking WHERE name = ?"),
            (self.app.name,),
        )
        rows = self._rows(cursor)
        return int(rows[0][0]) if rows else 0

    def catch_up(self, limit: int | None = None) -> int:
        """Projects notifications not yet seen; returns how many were read."""
        if self._is_current():
            return 0
        read = 0
        while limit is None or read < limit:
            try:
                batch = self._catch_up_once(PAGE if limit is None else min(PAGE, limit - read))
            except OperationalError:
                continue  # another process held the write lock and moved ahead; read again
            if not batch:
                return read
            read += batch
        return read

    def _is_current(self) -> bool:
        """Whether the log holds nothing past the tracked position: what a page read almost always
        finds, answered by one read, without the write transaction and lock of a catch-up."""
        [(tracked, newest)] = self._read(
            "SELECT (SELECT notification_id FROM leanplan_history_tracking WHERE name = ?) AS tracked, "
            f"(SELECT MAX({self.notification_id_column}) FROM {self._events_table()}) AS newest",
            (self.app.name,),
        )
        return newest is None or (tracked is not None and int(tracked) >= int(newest))

    def _catch_up_once(self, size: int) -> int:
        with self._transaction() as cursor:
            self._lock(cursor)
            start = self._tracked(cursor)
            notifications = self.app.recorder.select_notifications(
                start, size, inclusive_of_start=False
            )
            if not notifications:
                return 0
            self._project(cursor, notifications)
            cursor.execute(
                self._sql(
                    "INSERT INTO leanplan_history_tracking (name, notification_id) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET notification_id = excluded.notification_id"
                ),
                (self.app.name, notifications[-1].id),
            )
            return len(notifications)

    def _project(self, cursor: Any, notifications: Sequence[Notification]) -> None:
        """The hot loop of a replay: kept free of per-event work that is not needed."""
        last_keys: dict[str, tuple[str, str, int, int]] = {}
        rows: list[tuple[Any, ...]] = []
        kinds = self._kinds
        plans = self._plans
        for notification in notifications:
            topic = notification.topic
            if topic not in kinds:
                kinds[topic] = _kind_of(topic)
            kind = kinds[topic]
            if kind is None:
                continue
            type_name, is_milestone = kind
            state = notification.state
            origin = notification.originator_id.hex
            version = notification.originator_version
            if not is_milestone:
                plan_id = origin
            elif origin in plans:
                plan_id = plans[origin]
            else:
                plan_id = plans[origin] = _PLAN_ID.search(state)[1].decode()  # type: ignore[index]
            at = _TIMESTAMP.search(state)[1].decode()  # type: ignore[index]
            last = last_keys.get(plan_id) or self._last_key(cursor, plan_id)
            if last is not None and (at, origin, version) < last[:3]:
                self._flush(cursor, rows)
                rows = []
                position = self._make_room(cursor, plan_id, (at, origin, version))
                last_keys.pop(plan_id, None)
            else:
                position = last[3] + 1 if last else 1
                last_keys[plan_id] = (at, origin, version, position)
            actor = _ACTOR.search(state)[1]  # type: ignore[index]
            rows.append(
                (
                    plan_id,
                    position,
                    at,
                    origin,
                    version,
                    type_name,
                    _text(actor) if b"\\" in actor else actor.decode(),
                    origin if is_milestone else None,
                )
            )
        if len(plans) > _PLANS_REMEMBERED:
            plans.clear()
        self._flush(cursor, rows)

    def _flush(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cursor.executemany(self._sql(_INSERT), rows)

    def _last_key(self, cursor: Any, plan_id: str) -> tuple[str, str, int, int] | None:
        cursor.execute(
            self._sql(
                "SELECT at, origin, version, position FROM leanplan_history "
                "WHERE plan_id = ? ORDER BY position DESC LIMIT 1"
            ),
            (plan_id,),
        )
        rows = self._rows(cursor)
        return (rows[0][0], rows[0][1], int(rows[0][2]), int(rows[0][3])) if rows else None

    def _make_room(self, cursor: Any, plan_id: str, key: tuple[str, str, int]) -> int:
        """An event committed after a later-stamped one: shift what follows it by one place."""
        cursor.execute(
            self._sql(
                "UPDATE leanplan_history SET position = position + 1 "
                "WHERE plan_id = ? AND (at, origin, version) > (?, ?, ?)"
            ),
            (plan_id, *key),
        )
        cursor.execute(
            self._sql(
                "SELECT COUNT(*) FROM leanplan_history WHERE plan_id = ? AND (at, origin, version) < (?, ?, ?)"
            ),
            (plan_id, *key),
        )
        return int(self._rows(cursor)[0][0]) + 1

    def page(
        self, plan_id: UUID, wanted: HistoryFilter = HistoryFilter(), *, limit: int = 50, after: int = 0
    ) -> HistoryPage:
        """A page of the plan's history, after catching up so it never lags the event store."""
        self.catch_up()
        clauses = ["plan_id = ?", "position > ?"]
        params: list[Any] = [plan_id.hex, after]
        if wanted.milestone_id is not None:
            clauses.append("milestone_id = ?")
            params.append(wanted.milestone_id.hex)
        if wanted.actor is not None:
            clauses.append("actor = ?")
            params.append(wanted.actor)
        if wanted.types:
            clauses.append(f"type IN ({', '.join('?' for _ in wanted.types)})")
            params.extend(sorted(wanted.types))
        if wanted.since is not None:
            clauses.append("at > ?")
            params.append(utc_text(wanted.since))
        if wanted.until is not None:
            clauses.append("at <= ?")
            params.append(utc_text(wanted.until))
        # The page is cut before the join, so no plan (say on a table not yet analysed) can look up
        # the events of every matching row and sort them afterwards.
        rows = self._read(
            "SELECT h.position, h.origin, h.version, e.topic, e.state FROM ("
            "SELECT position, origin, version FROM leanplan_history "
            f"WHERE {' AND '.join(clauses)} ORDER BY position LIMIT ?"
            f") AS h JOIN {self._events_table()} AS e ON e.originator_id = {self._stored_origin()} "
            "AND e.originator_version = h.version ORDER BY h.position",
            (*params, limit + 1),
        )
        entries = self._entries(rows[:limit])
        return HistoryPage(entries, entries[-1].position if len(rows) > limit else None)

    def count(self, plan_id: UUID) -> int:
        self.catch_up()
        [(count,)] = self._read("SELECT COUNT(*) FROM leanplan_history WHERE plan_id = ?", (plan_id.hex,))
        return int(count)

    def _entries(self, rows: list[tuple[Any, ...]]) -> list[HistoryEntry]:
        """Decodes a page's stored events with the application's mapper, which also upcasts them."""
        to_event = self.app.mapper.to_domain_event
        return [
            entry_from(to_event(StoredEvent(UUID(origin), int(version), topic, bytes(state))), int(position))
            for position, origin, version, topic, state in rows
        ]


class PostgresHistoryReadModel(HistoryReadModel):
    integer = "BIGINT"
    notification_id_column = "notification_id"

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _events_table(self) -> str:
        """Qualified, as the event store's table lives in POSTGRES_SCHEMA (which is not on the
        search path this table is created by)."""
        return Identifier(self.datastore.schema, super()._events_table()).as_string(None)

    def _stored_origin(self) -> str:
        return "CAST(h.origin AS uuid)"

    def _lock(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))

    def _read(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """In autocommit, one round trip to the server where BEGIN and ROLLBACK would add two."""
        with self.datastore.get_connection() as connection:
            return self._rows(connection.execute(self._sql(statement), params))

    def _flush(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        """COPY, because row-by-row inserts would be most of a replay's time on PostgreSQL."""
        if rows:
            with cursor.copy(f"COPY leanplan_history ({_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def history_read_model(app: Leanplan) -> HistoryReadModel:
    """Picks the read model that matches the application's store."""
    datastore = app.recorder.datastore  # type: ignore[attr-defined]
    if isinstance(datastore, PostgresDatastore):
        return PostgresHistoryReadModel(app)
    if isinstance(datastore, SQLiteDatastore):
        return HistoryReadModel(app)
    raise TypeError(f"no history read model for {type(datastore).__name__}")
