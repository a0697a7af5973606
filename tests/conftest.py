"""Fixtures shared by every test: a clean environment and fresh SQLite / PostgreSQL databases."""

from __future__ import annotations

import getpass
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_MAINTENANCE_DB = "test"

# DATABASE_URL, and the eventsourcing keys it is translated into (plain or prefixed with an
# application name, e.g. PLANS_SQLITE_DBNAME), would otherwise steer tests to a developer's
# database.
_LEAKY_ENV_KEY = re.compile(
    r"^(DATABASE_URL|(\w+_)?(PERSISTENCE_MODULE|CREATE_TABLE|SQLITE_\w+|POSTGRES_\w+))$"
)


def pytest_configure() -> None:
    """Drop persistence settings inherited from the shell before any test or fixture runs."""
    for key in [key for key in os.environ if _LEAKY_ENV_KEY.match(key)]:
        del os.environ[key]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a SQLite file that does not exist yet, in this test's own directory."""
    return f"sqlite:///{tmp_path / 'leanplan.sqlite3'}"


def _admin_connection(user: str) -> psycopg.Connection[TupleRow]:
    """An autocommit connection to the maintenance database (CREATE/DROP DATABASE need one)."""
    return psycopg.connect(
        host=POSTGRES_HOST,
        port=POSTGRES_PORT,
        dbname=POSTGRES_MAINTENANCE_DB,
        user=user,
        connect_timeout=5,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def postgres_admin_user() -> str:
    """The first role that can log in to the local server (it runs with trust authentication).

    Machines of this kind have the roles ``postgres`` and ``root``; the current OS user is tried
    in between for a developer's own server. Skips (or fails under CI=true) once for the session.
    """
    users_by_error: dict[str, list[str]] = {}
    for user in dict.fromkeys(["postgres", getpass.getuser(), "root"]):
        try:
            with _admin_connection(user):
                return user
        except psycopg.OperationalError as error:
            users_by_error.setdefault(" ".join(str(error).split()), []).append(user)
    reason = "; ".join(f"as {', '.join(users)}: {error}" for error, users in users_by_error.items())
    where = f"{POSTGRES_HOST}:{POSTGRES_PORT}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL not reachable at {where} under CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable at {where}: {reason}; start it to run these tests")


@pytest.fixture
def postgres_url(postgres_admin_user: str) -> Iterator[str]:
    """A URL for a freshly created, uniquely named database, dropped after the test."""
    name = f"leanplan_test_{secrets.token_hex(6)}"
    with _admin_connection(postgres_admin_user) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        user = quote(postgres_admin_user, safe="")
        yield f"postgresql://{user}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        with _admin_connection(postgres_admin_user) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest) -> str:
    """Either store, so one application test proves itself on both."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
