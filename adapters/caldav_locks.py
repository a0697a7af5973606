"""Who may work on what when several sync workers share one store: one holder per lock name.

`leanplan sync` may run more than once against the same database (two hosts, or a restart that
overlaps the old process). The worker takes a lock per calendar link around its whole pass over
that link, and one lock around reading the event log; it never waits for one: a lock held
elsewhere means another worker is doing that very work now, so this one skips it for this pass.
Nothing else is partitioned, so any worker can take over any link when another stops.

- PostgreSQL: session advisory locks (`pg_try_advisory_lock`) on a connection of the worker's
  own, outside the event store's pool, so no pooled connection ever carries a lock back. The
  server drops a session's locks when the session ends: a killed worker's locks go as soon as the
  server sees its connection close — at once for a killed process, and for a host that vanished,
  when the TCP keepalives set below give up (about a minute). Session locks need a session of
  their own: behind PgBouncer, use session pooling (not transaction pooling) for the worker.
- SQLite: `flock` on one file per lock in a folder beside the database file
  (`sync-locks.<file name>/`; not `<file name>.*`, which backups of the database may copy).
  The kernel drops a process's locks when it exits, however it exits. SQLite serves one machine,
  where file locks are enough. The files stay: removing a lock file while another process waits
  on it would let two holders in.

A lock that a worker loses while it holds it (PostgreSQL restarted mid-pass) is not noticed
before the pass ends; the pass's own store writes fail in that case too, and the calendar's
preconditions (If-Match, If-None-Match) keep a second writer from overwriting anything.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import OperationalError
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from adapters.caldav_state import UnsupportedStore
from domain.application import Leanplan

log = logging.getLogger(__name__)

FOLLOW = "follow"
"""The lock around reading the event log and moving the tracking position."""

LOCK_CLASS = 0x4C50_4353  # "LPCS": leanplan calendar sync; the first key of every lock we take
_KEEPALIVES = (
    "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
)
"""Asks the server to probe an idle worker after 30 s and give up after three lost probes."""


class Locks(Protocol):
    def hold(self, name: str) -> AbstractContextManager[bool]:
        """Tries the lock without waiting; the block sees whether it got it, and it is released
        when the block ends."""

    def close(self) -> None: ...


def worker_locks(app: Leanplan) -> Locks:
    """The locks that suit the application's store."""
    datastore = getattr(app.recorder, "datastore", None)
    if isinstance(datastore, PostgresDatastore):
        return AdvisoryLocks(datastore)
    if isinstance(datastore, SQLiteDatastore):
        database = Path(datastore.pool.db_name)
        return FileLocks(database.with_name(f"sync-locks.{database.name}"))
    raise UnsupportedStore("calendar links need a SQLite or PostgreSQL store (DATABASE_URL)")


def lock_key(namespace: str, name: str) -> int:
    """A signed 32-bit key for a lock name. Two names sharing a key only take turns."""
    digest = hashlib.blake2b(f"{namespace}/{name}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLocks:
    """PostgreSQL session advisory locks on one connection, opened on first use."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        settings = dict(datastore.pool.kwargs or {})
        settings.pop("row_factory", None)
        self._settings: dict[str, Any] = settings
        self._namespace = datastore.schema
        self._connection: psycopg.Connection[Any] | None = None
        self._closer: weakref.finalize[Any, AdvisoryLocks] | None = None

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        key = lock_key(self._namespace, name)
        if not self._try(key):
            yield False
            return
        try:
            yield True
        finally:
            self._release(name, key)

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
        self._connection = self._closer = None

    def _try(self, key: int) -> bool:
        """A connection that broke since the last lock (nothing is held then) is replaced once."""
        try:
            return self._try_on(self._connect(), key)
        except psycopg.Error:
            self.close()
        try:
            return self._try_on(self._connect(), key)
        except psycopg.Error as error:
            self.close()
            raise OperationalError(f"the sync worker's lock connection: {error}") from error

    @staticmethod
    def _try_on(connection: psycopg.Connection[Any], key: int) -> bool:
        row = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, key)).fetchone()
        return bool(row and row[0])

    def _release(self, name: str, key: int) -> None:
        """An unlock that fails leaves nothing held: the broken session took its locks with it."""
        try:
            if self._connection is not None:
                self._connection.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, key))
        except psycopg.Error as error:
            log.warning("releasing the sync lock %s: %s; reconnecting", name, error)
            self.close()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            connection = psycopg.connect(
                **self._settings,
                autocommit=True,
                connect_timeout=10,
                application_name="leanplan sync (locks)",
                options=_KEEPALIVES,
            )
            self._connection = connection
            # Closes the connection when the worker is dropped without close(), or at exit.
            self._closer = weakref.finalize(self, connection.close)
        return self._connection


class FileLocks:
    """`flock` on `<folder>/<name>.lock`, one file per lock, opened for each hold."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"{name}.lock").open("ab") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True  # closing the file releases the lock

    def close(self) -> None:
        """Nothing stays open between holds."""
