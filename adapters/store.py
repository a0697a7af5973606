"""Translate ``DATABASE_URL`` into eventsourcing's persistence settings.

This is the one place that knows both vocabularies, so the rest of the code passes a single URL
around (as twelve-factor apps and hosting platforms expect) and never spells an eventsourcing key.
The returned mapping is meant for ``Application(env=...)``; it does not touch ``os.environ``.

SQLite notes (checked against eventsourcing 9.5.6): it switches a file database to WAL on first
connection, so readers never wait for a writer; writers from several ``Application`` instances or
processes serialise on SQLite's file lock and wait up to ``SQLITE_LOCK_TIMEOUT`` seconds before
``eventsourcing.persistence.OperationalError: database is locked``. Every application that shares
one SQLite file writes into the same ``stored_events`` table, whereas PostgreSQL names the tables
after the application.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///var/leanplan.sqlite3"
"""Used when ``DATABASE_URL`` is unset: a file under ``./var`` so ``make run`` needs no setup."""

SQLITE_LOCK_TIMEOUT_SECONDS = 10
"""How long a writer waits for another writer's commit, in seconds. Commits take well under a
millisecond, so this only runs out when something is stuck, and it still fails well before
gunicorn's 30 s worker timeout kills the request."""

POSTGRES_DEFAULT_PORT = 5432

_SQLITE_SCHEMES = frozenset({"sqlite"})
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


class ConfigurationError(Exception):
    """``DATABASE_URL`` cannot be used; the message is one line naming the fault and the fix.

    A dedicated type lets the CLI print the message and exit instead of showing a traceback.
    """


def database_url_from_environ(environ: Mapping[str, str]) -> str:
    """Return ``DATABASE_URL`` from ``environ``, or the default when unset or blank.

    Takes the mapping as an argument (rather than reading ``os.environ``) so callers and tests
    decide which environment counts.
    """
    return environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL


def eventsourcing_env(database_url: str, *, create_directory: bool = True) -> dict[str, str]:
    """Return the eventsourcing settings for ``database_url``.

    For SQLite the path is made absolute against the current working directory (so a later
    ``chdir`` cannot move the database) and its parent directory is created (unless
    ``create_directory`` is false: checking a setting must not change anything). Raises
    ``ConfigurationError`` for anything that is not a usable ``sqlite:///`` or
    ``postgresql://`` URL, before any connection is attempted.
    """
    try:
        parts = urlsplit(database_url.strip())
    except ValueError as error:
        raise ConfigurationError(f"DATABASE_URL: not a valid URL ({error})") from error
    if parts.scheme in _SQLITE_SCHEMES:
        return _sqlite_env(parts, create_directory)
    if parts.scheme in _POSTGRES_SCHEMES:
        return _postgres_env(parts)
    scheme = parts.scheme or "(none)"
    raise ConfigurationError(
        f"DATABASE_URL: unsupported scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


def _sqlite_env(parts: SplitResult, create_directory: bool) -> dict[str, str]:
    """Settings for ``sqlite:///relative/path`` or ``sqlite:////absolute/path``."""
    if parts.netloc or not parts.path.startswith("/"):
        raise ConfigurationError(
            "DATABASE_URL: a SQLite URL has three slashes before a relative path "
            "(sqlite:///var/db.sqlite3) or four before an absolute one (sqlite:////srv/db.sqlite3)"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError("DATABASE_URL: a SQLite URL takes no '?' or '#' part")
    raw_path = unquote(parts.path[1:])
    if not raw_path:
        raise ConfigurationError("DATABASE_URL: the SQLite URL names no file")
    if ":memory:" in raw_path:
        raise ConfigurationError(
            "DATABASE_URL: in-memory SQLite is not supported (the plan must outlive the process)"
        )
    path = Path(raw_path).resolve()
    if path.is_dir():
        raise ConfigurationError(f"DATABASE_URL: {path} is a directory, not a database file")
    if create_directory:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigurationError(
                f"DATABASE_URL: cannot create directory {path.parent}: {error.strerror}"
            ) from error
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
        "CREATE_TABLE": "y",
    }


def _postgres_env(parts: SplitResult) -> dict[str, str]:
    """Settings for ``postgresql://user:password@host:port/dbname?schema=name``."""
    try:
        port = parts.port or POSTGRES_DEFAULT_PORT
    except ValueError as error:
        raise ConfigurationError(f"DATABASE_URL: invalid port ({error})") from error
    host = unquote(parts.hostname or "")
    if not host:
        raise ConfigurationError("DATABASE_URL: the PostgreSQL URL names no host")
    user = unquote(parts.username or "")
    if not user:
        raise ConfigurationError(
            "DATABASE_URL: the PostgreSQL URL names no user (postgresql://USER@host/dbname)"
        )
    dbname = unquote(parts.path.removeprefix("/"))
    if not dbname or "/" in dbname:
        raise ConfigurationError(
            "DATABASE_URL: the PostgreSQL URL must name one database "
            "(postgresql://user@host/DBNAME)"
        )
    if parts.fragment:
        raise ConfigurationError("DATABASE_URL: a PostgreSQL URL takes no '#' part")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "CREATE_TABLE": "y",
    }
    schema = _schema_from_query(parts.query)
    if schema is not None:
        env["POSTGRES_SCHEMA"] = schema
    return env


def _schema_from_query(query: str) -> str | None:
    """The ``schema`` query parameter, the only one accepted; a typo must not pass silently."""
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as error:
        raise ConfigurationError(f"DATABASE_URL: malformed query string ({error})") from error
    unknown = sorted(set(params) - {"schema"})
    if unknown:
        raise ConfigurationError(
            f"DATABASE_URL: unsupported query parameter {unknown[0]!r} (only 'schema' is accepted)"
        )
    if "schema" not in params:
        return None
    values = params["schema"]
    if len(values) != 1 or not values[0]:
        raise ConfigurationError("DATABASE_URL: 'schema' must be given once, with a name")
    return values[0]
