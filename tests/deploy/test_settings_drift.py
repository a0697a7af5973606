"""The settings table (adapters/config.py), env.example, compose.yaml and the code that reads
the environment agree: same names, same defaults, and no value passes the check that the code
refuses."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

import adapters.config as config
from adapters.caldav_sync import SyncSettings
from adapters.config import SETTINGS, Setting, SettingError
from adapters.store import ConfigurationError
from tests.deploy.support import REPO, compose_text, env_example, interpolated_names
from web import create_app
from web.gunicorn_settings import gunicorn_options
from web.logs import LogFormat

NAMES = {setting.name for setting in SETTINGS}
NOT_ENVIRONMENT = {"LEANPLAN_APP"}
"""Flask config keys that look like settings: tests hand a ready application in as LEANPLAN_APP."""


def _reads_environ(node: ast.AST) -> bool:
    """os.environ, an `environ` mapping handed in, os.getenv; not a WSGI request's environ."""
    source = ast.unparse(node)
    return ("environ" in source or "getenv" in source) and "request.environ" not in source


def _environment_names_in(path: Path) -> set[str]:
    """Names the module reads from the environment: literals given to `environ.get`/`getenv`
    or `environ[...]`, constants named `*_ENV`, and any literal that starts with LEANPLAN_."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("LEANPLAN_") and node.value.isupper():
                found.add(node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if any(t.endswith("_ENV") for t in targets) and isinstance(node.value.value, str):
                found.add(node.value.value)
        elif isinstance(node, ast.Call) and node.args and _reads_environ(node.func):
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and _reads_environ(node.value)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            found.add(node.slice.value)
    return found


def test_the_code_reads_no_setting_the_table_does_not_know() -> None:
    read: dict[str, set[str]] = {}
    for package in ("adapters", "web", "domain"):
        for path in (REPO / package).rglob("*.py"):
            for name in _environment_names_in(path) - NOT_ENVIRONMENT:
                if not name.startswith("HTTP_"):  # a request header in a WSGI environ
                    read.setdefault(name, set()).add(str(path.relative_to(REPO)))
    unknown = {name: sorted(paths) for name, paths in read.items() if name not in NAMES}
    assert unknown == {}, "add these to adapters/config.py and deploy/env.example"
    assert {"DATABASE_URL", "LEANPLAN_SECRET_KEY", "LEANPLAN_BASE_URL"} <= read.keys()


def test_env_example_lists_every_setting_once_and_the_compose_variables() -> None:
    lines = env_example()
    names = [line.name for line in lines]
    assert len(names) == len(set(names)), "a name listed twice"
    compose_only = set(interpolated_names(compose_text())) - NAMES
    assert set(names) == NAMES | compose_only
    assert compose_only == {"POSTGRES_PASSWORD", "LEANPLAN_IMAGE", "LEANPLAN_HTTP_PORT"}


def test_env_example_shows_the_real_defaults_and_only_example_secrets() -> None:
    by_name = {setting.name: setting for setting in SETTINGS}
    for line in env_example():
        setting = by_name.get(line.name)
        if line.commented and setting is not None:
            assert line.value == setting.default, f"{line.name}: the code's default differs"
        if not line.commented:
            assert config.EXAMPLE_SECRET_MARK in line.value, f"{line.name}: a real value?"
    required = {line.name for line in env_example() if not line.commented}
    assert required == {"LEANPLAN_SECRET_KEY", "POSTGRES_PASSWORD"}


def test_the_defaults_are_the_ones_the_code_applies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    sync = SyncSettings.from_environ({})
    assert sync.base_url == config.BASE_URL.default
    assert sync.cancelled_grace == timedelta(days=int(config.FEED_GRACE_DAYS.default))
    assert sync.poll_seconds == float(config.SYNC_POLL_SECONDS.default)
    assert sync.push_seconds == float(config.SYNC_PUSH_SECONDS.default)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite3'}", "TESTING": True})
    feeds = app.extensions["leanplan_feeds"].renderer.settings
    assert feeds.base_url == config.BASE_URL.default
    assert feeds.refresh_interval.total_seconds() == int(config.FEED_REFRESH_SECONDS.default)
    assert feeds.cancelled_grace.days == int(config.FEED_GRACE_DAYS.default)
    options = gunicorn_options({})
    assert options["workers"] == int(config.WEB_CONCURRENCY.default)
    assert options["forwarded_allow_ips"] == config.FORWARDED_ALLOW_IPS.default


def _accepts(setting: Setting, text: str) -> bool:
    try:
        setting.parse(text)
    except SettingError:
        return False
    return True


SAMPLES = ["0", "1", "2.5", "-1", "abc", "59", "60", "3600", "1e3", "10000000", " 7 "]


@pytest.mark.parametrize(
    "setting",
    [config.SYNC_POLL_SECONDS, config.SYNC_PUSH_SECONDS, config.FEED_GRACE_DAYS],
    ids=lambda s: s.name,
)
def test_what_the_check_accepts_the_sync_worker_accepts(setting: Setting) -> None:
    for text in SAMPLES:
        if _accepts(setting, text.strip()):
            SyncSettings.from_environ({setting.name: text})
    rejected_by_worker = []
    for text in SAMPLES:
        try:
            SyncSettings.from_environ({setting.name: text})
        except ConfigurationError:
            rejected_by_worker.append(text)
    assert rejected_by_worker, "the samples include values the worker refuses"
    assert not any(_accepts(setting, text.strip()) for text in rejected_by_worker)


@pytest.mark.parametrize(
    "setting", [config.FEED_REFRESH_SECONDS, config.FEED_GRACE_DAYS], ids=lambda s: s.name
)
def test_what_the_check_accepts_the_feeds_accept(
    setting: Setting, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    for text in SAMPLES:
        if _accepts(setting, text.strip()):
            monkeypatch.setenv(setting.name, text.strip())
            create_app({"DATABASE_URL": url, "TESTING": True})


def test_log_formats_are_web_logs_own() -> None:
    for fmt in LogFormat:
        assert _accepts(config.LOG_FORMAT, fmt.value)
    assert not _accepts(config.LOG_FORMAT, "xml")


def test_forwarded_allow_ips_is_checked_by_gunicorn_itself() -> None:
    assert (
        gunicorn_options({"FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.0.2.7"})["forwarded_allow_ips"]
        == "10.0.0.0/8,192.0.2.7"
    )
    with pytest.raises(ConfigurationError, match="FORWARDED_ALLOW_IPS"):
        gunicorn_options({"FORWARDED_ALLOW_IPS": "10.0.0.1/8"})
    with pytest.raises(ConfigurationError, match="WEB_CONCURRENCY: not a whole number"):
        gunicorn_options({"WEB_CONCURRENCY": "four"})
