"""Wires the Leanplan application from configuration; the one place that reads DATABASE_URL.

Every entry point (the CLI, the web server, the sync worker) opens the application here, so they
cannot disagree about which store they use.

On PostgreSQL, opening holds an advisory lock while the event store creates its tables: processes
starting together on an empty database (web workers, sync workers) would otherwise race through
`CREATE TYPE` / `CREATE TABLE IF NOT EXISTS` and all but one could fail on the catalog's unique
index (measured: 17 of 24 openings, four at a time).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import OperationalError

from adapters.store import database_url_from_environ, eventsourcing_env
from domain.application import Leanplan


def resolve_database_url(database_url: str | None, environ: Mapping[str, str]) -> str:
    """An explicit URL wins; otherwise DATABASE_URL from `environ`, else the default file."""
    return database_url or database_url_from_environ(environ)


SCHEMA_LOCK = 7_340_210
"""The PostgreSQL advisory lock key held while the event store's tables are created."""
CONNECT_SECONDS = 10


def open_leanplan(
    database_url: str | None = None, environ: Mapping[str, str] = os.environ
) -> Leanplan:
    """The application on the configured store, creating the tables if they are missing.

    Raises `adapters.store.ConfigurationError` for an unusable URL before connecting.
    """
    env = eventsourcing_env(resolve_database_url(database_url, environ))
    with _one_at_a_time(env):
        return Leanplan(env=env)


@contextmanager
def _one_at_a_time(env: Mapping[str, str]) -> Iterator[None]:
    """On PostgreSQL, a session lock on a connection of its own, for as long as the block runs."""
    if env["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
        yield
        return
    try:
        connection = psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], autocommit=True,
            connect_timeout=CONNECT_SECONDS,
        )  # fmt: skip
    except psycopg.OperationalError as error:
        raise OperationalError(" ".join(str(error).split())) from error
    with connection:  # closing the session releases the lock
        connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        yield


def describe_store(database_url: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """Where the store lives, for people to read; never shows a password."""
    env = eventsourcing_env(resolve_database_url(database_url, environ))
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        return f"SQLite file {env['SQLITE_DBNAME']}"
    return (
        f"PostgreSQL database {env['POSTGRES_DBNAME']!r} on "
        f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']} as {env['POSTGRES_USER']!r}"
    )
