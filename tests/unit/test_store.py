"""DATABASE_URL → eventsourcing settings: every accepted form and every rejection."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import Environment

from adapters.store import (
    DEFAULT_DATABASE_URL,
    SQLITE_LOCK_TIMEOUT_SECONDS,
    ConfigurationError,
    database_url_from_environ,
    eventsourcing_env,
)


def _declared_keys(factory: type[object]) -> set[str]:
    """The setting names a factory class (and its bases) declare as upper-case string attributes."""
    return {
        value
        for cls in factory.__mro__
        for name, value in vars(cls).items()
        if name.isupper() and isinstance(value, str)
    }


# --- database_url_from_environ ------------------------------------------------------------------


def test_unset_database_url_gives_the_default() -> None:
    assert database_url_from_environ({}) == DEFAULT_DATABASE_URL == "sqlite:///var/leanplan.sqlite3"


def test_blank_database_url_gives_the_default() -> None:
    assert database_url_from_environ({"DATABASE_URL": "  "}) == DEFAULT_DATABASE_URL


def test_set_database_url_is_returned_trimmed() -> None:
    environ = {"DATABASE_URL": " postgresql://u@h/db\n", "OTHER": "x"}
    assert database_url_from_environ(environ) == "postgresql://u@h/db"


# --- SQLite ---------------------------------------------------------------------------------------


def test_relative_sqlite_path_is_resolved_against_cwd_and_parent_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = eventsourcing_env("sqlite:///data/nested/plan.sqlite3")
    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path.resolve() / "data" / "nested" / "plan.sqlite3"),
        "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
        "CREATE_TABLE": "y",
    }
    assert (tmp_path / "data" / "nested").is_dir()
    assert not (tmp_path / "data" / "nested" / "plan.sqlite3").exists()


def test_default_url_lands_in_var_under_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = eventsourcing_env(DEFAULT_DATABASE_URL)
    assert env["SQLITE_DBNAME"] == str(tmp_path.resolve() / "var" / "leanplan.sqlite3")
    assert (tmp_path / "var").is_dir()


def test_absolute_sqlite_path_needs_four_slashes(tmp_path: Path) -> None:
    target = tmp_path.resolve() / "abs" / "plan.sqlite3"
    env = eventsourcing_env(f"sqlite:///{target}")
    assert str(target).startswith("/")
    assert env["SQLITE_DBNAME"] == str(target)
    assert target.parent.is_dir()


def test_dot_segments_are_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = eventsourcing_env("sqlite:///a/../b/./plan.sqlite3")
    assert env["SQLITE_DBNAME"] == str(tmp_path.resolve() / "b" / "plan.sqlite3")


def test_sqlite_path_is_percent_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = eventsourcing_env("sqlite:///my%20plans/plan.sqlite3")
    assert env["SQLITE_DBNAME"] == str(tmp_path.resolve() / "my plans" / "plan.sqlite3")


def test_scheme_is_case_insensitive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert eventsourcing_env("SQLite:///p.sqlite3")["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"


def test_sqlite_settings_are_the_ones_eventsourcing_reads(tmp_path: Path) -> None:
    env = eventsourcing_env(f"sqlite:///{tmp_path}/plan.sqlite3")
    assert set(env) <= _declared_keys(SQLiteFactory)
    factory = SQLiteFactory(Environment("Plans", env))
    try:
        assert factory.datastore.pool.db_name == env["SQLITE_DBNAME"]
        assert factory.datastore.pool.lock_timeout == SQLITE_LOCK_TIMEOUT_SECONDS
        assert factory.env_create_table()
    finally:
        factory.close()


# --- PostgreSQL -----------------------------------------------------------------------------------


def test_full_postgresql_url() -> None:
    env = eventsourcing_env("postgresql://plan:secret@db.example:6543/leanplan")
    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "leanplan",
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "plan",
        "POSTGRES_PASSWORD": "secret",
        "CREATE_TABLE": "y",
    }


def test_postgres_scheme_alias_and_default_port_and_empty_password() -> None:
    env = eventsourcing_env("postgres://plan@localhost/leanplan")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_PASSWORD"] == ""


def test_user_and_password_are_percent_decoded() -> None:
    env = eventsourcing_env("postgresql://a%40b:p%3Aw%2Fd%40%25@h:5432/db")
    assert env["POSTGRES_USER"] == "a@b"
    assert env["POSTGRES_PASSWORD"] == "p:w/d@%"


def test_schema_query_parameter() -> None:
    env = eventsourcing_env("postgresql://u@h/db?schema=leanplan")
    assert env["POSTGRES_SCHEMA"] == "leanplan"


def test_no_schema_key_without_the_parameter() -> None:
    assert "POSTGRES_SCHEMA" not in eventsourcing_env("postgresql://u@h/db")


def test_ipv6_host_loses_its_brackets() -> None:
    env = eventsourcing_env("postgresql://u@[::1]:5433/db")
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("::1", "5433")


def test_percent_encoded_socket_directory_host() -> None:
    env = eventsourcing_env("postgresql://u@%2Fvar%2Frun%2Fpostgresql/db")
    assert env["POSTGRES_HOST"] == "/var/run/postgresql"


def test_postgres_settings_are_the_ones_eventsourcing_reads() -> None:
    env = eventsourcing_env("postgresql://u:p@h:1/db?schema=s")
    assert set(env) <= _declared_keys(PostgresFactory)


# --- rejections -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://u@h/db", "unsupported scheme 'mysql' (use sqlite:/// or postgresql://)"),
        ("var/leanplan.sqlite3", "unsupported scheme '(none)'"),
        ("", "unsupported scheme '(none)'"),
        ("sqlite://host/plan.sqlite3", "three slashes"),
        ("sqlite:plan.sqlite3", "three slashes"),
        ("sqlite:///", "names no file"),
        ("sqlite:///:memory:", "in-memory SQLite is not supported"),
        ("sqlite:///plan.sqlite3?mode=ro", "takes no '?' or '#'"),
        ("sqlite:///plan.sqlite3#x", "takes no '?' or '#'"),
        ("postgresql://u@/db", "names no host"),
        ("postgresql://h/db", "names no user"),
        ("postgresql://:pw@h/db", "names no user"),
        ("postgresql://u@h", "must name one database"),
        ("postgresql://u@h/", "must name one database"),
        ("postgresql://u@h/a/b", "must name one database"),
        ("postgresql://u@h:port/db", "invalid port"),
        ("postgresql://u@h:70000/db", "invalid port"),
        ("postgresql://u@[::1/db", "not a valid URL"),
        ("postgresql://u@h/db?sslmode=require", "unsupported query parameter 'sslmode'"),
        ("postgresql://u@h/db?schema=a&schema=b", "'schema' must be given once"),
        ("postgresql://u@h/db?schema=", "'schema' must be given once"),
        ("postgresql://u@h/db?schema", "malformed query string"),
        ("postgresql://u@h/db#frag", "takes no '#'"),
    ],
)
def test_unusable_urls_are_rejected_with_one_line(url: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        eventsourcing_env(url)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL: ")
    assert fragment in message
    assert "\n" not in message


def test_sqlite_path_that_is_a_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        eventsourcing_env(f"sqlite:///{tmp_path}")


def test_sqlite_parent_that_cannot_be_created_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigurationError, match="cannot create directory"):
        eventsourcing_env(f"sqlite:///{tmp_path}/file/plan.sqlite3")
