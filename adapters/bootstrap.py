"""Wires the Leanplan application from configuration; the one place that reads DATABASE_URL.

Every entry point (the CLI, the web server, the sync worker) opens the application here, so they
cannot disagree about which store they use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from adapters.store import database_url_from_environ, eventsourcing_env
from domain.application import Leanplan


def resolve_database_url(database_url: str | None, environ: Mapping[str, str]) -> str:
    """An explicit URL wins; otherwise DATABASE_URL from `environ`, else the default file."""
    return database_url or database_url_from_environ(environ)


def open_leanplan(
    database_url: str | None = None, environ: Mapping[str, str] = os.environ
) -> Leanplan:
    """The application on the configured store, creating the tables if they are missing.

    Raises `adapters.store.ConfigurationError` for an unusable URL before connecting.
    """
    return Leanplan(env=eventsourcing_env(resolve_database_url(database_url, environ)))


def describe_store(database_url: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """Where the store lives, for people to read; never shows a password."""
    env = eventsourcing_env(resolve_database_url(database_url, environ))
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        return f"SQLite file {env['SQLITE_DBNAME']}"
    return (
        f"PostgreSQL database {env['POSTGRES_DBNAME']!r} on "
        f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']} as {env['POSTGRES_USER']!r}"
    )
