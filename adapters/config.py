"""Every environment setting leanplan reads: its default, what it means, and how it is checked.

One table, so `leanplan check-config`, `deploy/env.example` and the code that reads a setting
cannot drift apart: tests/deploy fails when the code reads a name that is not here, when a
default here differs from the one the code applies, or when env.example lists other names.
A check is the parse the code does, so a value that passes it also starts the program; where
the table is stricter (a secret key short enough to guess) it says why in the message.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from adapters.store import DEFAULT_DATABASE_URL, ConfigurationError, eventsourcing_env

CONNECT_TIMEOUT_SECONDS = 5
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_DISTINCT = 12
MIN_METRICS_TOKEN_LENGTH = 24
EXAMPLE_SECRET_MARK = "change-me"
"""Every example value of a secret in deploy/ contains this, so a copied example is caught."""
NEW_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class SettingError(ValueError):
    """A value that cannot be used; the message says why and what would do."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    """The text used when the variable is unset or blank; "" means there is none."""
    meaning: str
    """One line for `leanplan check-config --help`; deploy/env.example says more."""
    parse: Callable[[str], Any]
    secret: bool = False

    def text(self, environ: Mapping[str, str]) -> str:
        return environ.get(self.name, "").strip() or self.default

    def value(self, environ: Mapping[str, str] = os.environ) -> Any:
        """The parsed value, raising ConfigurationError (one line, naming the setting)."""
        try:
            return self.parse(self.text(environ))
        except SettingError as error:
            raise ConfigurationError(f"{self.name}: {error}") from None


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit():
            raise SettingError(f"not a whole number: {text!r}")
        if not low <= int(text) <= high:
            raise SettingError(f"must be from {low} to {high}, not {text}")
        return int(text)

    return parse


def _seconds(text: str) -> float:
    """The sync worker's own bounds (adapters.caldav_sync.SyncSettings)."""
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"not a number: {text!r}") from None
    if not 0 < value < 10**7:
        raise SettingError(f"must be a positive number of seconds below 10000000, not {text}")
    return value


def _database_url(text: str) -> str:
    try:
        env = eventsourcing_env(text, create_directory=False)
    except ConfigurationError as error:
        raise SettingError(str(error).removeprefix("DATABASE_URL: ")) from None
    if EXAMPLE_SECRET_MARK in env.get("POSTGRES_PASSWORD", ""):
        raise SettingError("the password is still the example value; set a real one")
    return text


def _secret_key(text: str) -> str:
    """Anything long and random: HKDF and Flask's signer take any string, so only guessing harms."""
    if not text:
        raise SettingError(
            "not set: sessions then end at every restart, differ between workers, and calendar "
            f"passwords cannot be stored; make one with {NEW_SECRET_KEY}"
        )
    if EXAMPLE_SECRET_MARK in text:
        raise SettingError(f"still the example value; make a real one with {NEW_SECRET_KEY}")
    if len(text) < MIN_SECRET_KEY_LENGTH:
        raise SettingError(
            f"too short to be safe ({len(text)} characters, at least {MIN_SECRET_KEY_LENGTH}); "
            f"make one with {NEW_SECRET_KEY}"
        )
    if len(set(text)) < MIN_SECRET_KEY_DISTINCT:
        raise SettingError(
            f"not random enough ({len(set(text))} different characters); "
            f"make one with {NEW_SECRET_KEY}"
        )
    return text


def _old_secret_key(text: str) -> str:
    """Only `leanplan rotate-secret-key` reads it, and only the key it decrypts with matters."""
    return text


def _base_url(text: str) -> str:
    """Feed URLs are this plus a path, so it must be an origin: scheme, host, optional port."""
    try:
        parts = urlsplit(text)
        port = parts.port  # a port that is no number in 0-65535 raises ValueError here
    except ValueError as error:
        raise SettingError(f"not a valid URL ({error})") from None
    if port == 0:
        raise SettingError("port 0 is not a port a browser can reach")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(f"must be an absolute http:// or https:// URL, not {text!r}")
    if parts.username is not None or parts.password is not None:
        raise SettingError("must not contain a user name or password")
    if parts.path or parts.query or parts.fragment:
        raise SettingError(
            f"must be scheme and host only (e.g. https://plans.example.org), without a path, "
            f"'?' or '#' (found {urlunsplit(('', '', parts.path, parts.query, parts.fragment))!r})"
        )
    return text


def _addresses(text: str) -> list[str]:
    """gunicorn's own check, so a value passing here is one gunicorn takes."""
    from gunicorn.config import validate_string_to_addr_list

    try:
        addresses: list[str] = validate_string_to_addr_list(text)
    except ValueError as error:
        raise SettingError(
            f"not a comma-separated list of addresses, networks or * ({error})"
        ) from None
    return addresses


def _metrics_token(text: str) -> str:
    """Optional; when set it is a password for the scraper, so the same rules as a password."""
    if text and EXAMPLE_SECRET_MARK in text:
        raise SettingError(f"still the example value; make a real one with {NEW_SECRET_KEY}")
    if text and len(text) < MIN_METRICS_TOKEN_LENGTH:
        raise SettingError(
            f"too short to be safe ({len(text)} characters, at least {MIN_METRICS_TOKEN_LENGTH})"
        )
    return text


def _log_format(text: str) -> str:
    """web.logs.LogFormat's values; blank leaves the choice to the command."""
    if text.lower() not in ("", "json", "text"):
        raise SettingError(f"use json or text, not {text!r}")
    return text.lower()


def _metrics_directory(text: str) -> str:
    """prometheus-client's multiprocess folder: absolute, and a folder this user can write."""
    if not text:
        return text
    path = Path(text)
    if not path.is_absolute():
        raise SettingError(f"must be an absolute path, not {text!r}")
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir():
        raise SettingError(f"{existing} is not a directory")
    if not os.access(existing, os.W_OK):
        raise SettingError(f"{existing} is not writable")
    return text


DATABASE_URL = Setting(
    "DATABASE_URL",
    DEFAULT_DATABASE_URL,
    "the event store: sqlite:///path or postgresql://user:password@host:port/db[?schema=NAME]",
    _database_url,
    secret=True,
)
SECRET_KEY = Setting(
    "LEANPLAN_SECRET_KEY",
    "",
    "signs session cookies and encrypts calendar-link passwords; long and random",
    _secret_key,
    secret=True,
)
OLD_SECRET_KEY = Setting(
    "LEANPLAN_OLD_SECRET_KEY",
    "",
    "the previous LEANPLAN_SECRET_KEY, read only by `leanplan rotate-secret-key`",
    _old_secret_key,
    secret=True,
)
BASE_URL = Setting(
    "LEANPLAN_BASE_URL",
    "http://127.0.0.1:8000",
    "the public address (scheme and host): feed URLs and links in calendar events; https "
    "makes session cookies Secure",
    _base_url,
)
FEED_REFRESH_SECONDS = Setting(
    "LEANPLAN_FEED_REFRESH_SECONDS",
    "3600",
    "how often feed clients should poll (REFRESH-INTERVAL, X-PUBLISHED-TTL, Cache-Control)",
    _whole(60, 30 * 24 * 3600),
)
FEED_GRACE_DAYS = Setting(
    "LEANPLAN_FEED_GRACE_DAYS",
    "30",
    "how many days a cancelled milestone stays in feeds and calendars as cancelled",
    _whole(1, 3650),
)
SYNC_POLL_SECONDS = Setting(
    "LEANPLAN_SYNC_POLL_SECONDS",
    "60",
    "how often `leanplan sync` reads every linked calendar",
    _seconds,
)
SYNC_PUSH_SECONDS = Setting(
    "LEANPLAN_SYNC_PUSH_SECONDS",
    "1",
    "how often `leanplan sync` looks for local changes to push",
    _seconds,
)
WEB_CONCURRENCY = Setting(
    "WEB_CONCURRENCY",
    "2",
    "gunicorn worker processes of `leanplan serve` (about 2 per core)",
    _whole(1, 64),
)
FORWARDED_ALLOW_IPS = Setting(
    "FORWARDED_ALLOW_IPS",
    "127.0.0.1,::1",
    "addresses or networks of the TLS proxy whose X-Forwarded-Proto gunicorn believes; * for "
    "any (only when nothing but the proxy can reach the web port)",
    _addresses,
)
LOG_FORMAT = Setting(
    "LEANPLAN_LOG_FORMAT",
    "",
    "json or text; unset: JSON lines for `leanplan serve`, text for the other commands",
    _log_format,
)
METRICS_TOKEN = Setting(
    "LEANPLAN_METRICS_TOKEN",
    "",
    "when set, /metrics wants `Authorization: Bearer <token>`; unset, /metrics is open",
    _metrics_token,
    secret=True,
)
METRICS_DIRECTORY = Setting(
    "PROMETHEUS_MULTIPROC_DIR",
    "",
    "where gunicorn's workers share metrics; unset: `leanplan serve` makes a fresh folder. Plain "
    "gunicorn needs it: an empty folder of its own, on tmpfs",
    _metrics_directory,
)

SETTINGS: tuple[Setting, ...] = (
    DATABASE_URL,
    SECRET_KEY,
    OLD_SECRET_KEY,
    BASE_URL,
    FEED_REFRESH_SECONDS,
    FEED_GRACE_DAYS,
    SYNC_POLL_SECONDS,
    SYNC_PUSH_SECONDS,
    WEB_CONCURRENCY,
    FORWARDED_ALLOW_IPS,
    LOG_FORMAT,
    METRICS_TOKEN,
    METRICS_DIRECTORY,
)


@dataclass(frozen=True)
class Finding:
    """One setting as `check-config` reports it: what it is, where it came from, what is wrong."""

    setting: Setting
    shown: str
    is_default: bool
    problem: str | None


def check(environ: Mapping[str, str]) -> list[Finding]:
    """Every setting, in table order, shown without its secrets."""
    findings = []
    for setting in SETTINGS:
        text = setting.text(environ)
        try:
            setting.parse(text)
            problem = None
        except SettingError as error:
            problem = str(error)
        is_default = not environ.get(setting.name, "").strip()
        findings.append(Finding(setting, _shown(setting, text), is_default, problem))
    return findings


def _shown(setting: Setting, text: str) -> str:
    if setting is DATABASE_URL:
        return mask_password(text)
    if setting.secret:
        return f"set ({len(text)} characters, hidden)" if text else "not set"
    return text or "not set"


def mask_password(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return "(unparsable, hidden)"
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def connect(database_url: str) -> str:
    """Reach the store without changing it; a description on success, else SettingError."""
    env = eventsourcing_env(database_url, create_directory=False)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        return _reach_sqlite(Path(env["SQLITE_DBNAME"]))
    return _reach_postgres(env)


def _reach_sqlite(path: Path) -> str:
    if not path.exists():
        existing = next(folder for folder in path.parents if folder.exists())
        if not os.access(existing, os.W_OK):
            raise SettingError(f"cannot create {path}: {existing} is not writable")
        return f"SQLite file {path} does not exist yet; `leanplan init` creates it"
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        raise SettingError(f"cannot read the SQLite file {path}: {error}") from None
    if not os.access(path, os.W_OK):
        raise SettingError(f"the SQLite file {path} is not writable")
    return f"SQLite file {path} is readable and writable"


def _reach_postgres(env: Mapping[str, str]) -> str:
    import psycopg

    where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
    try:
        with psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=int(env["POSTGRES_PORT"]),
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        ) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.Error as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise SettingError(
            f"cannot connect to PostgreSQL at {where} as {env['POSTGRES_USER']!r}: {reason}"
        ) from None
    version = row[0] if row else "?"
    return f"PostgreSQL {version} at {where}, database {env['POSTGRES_DBNAME']!r}, answers"
