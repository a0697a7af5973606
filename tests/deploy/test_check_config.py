"""`leanplan check-config`: one line per setting with secrets hidden, one clear line per problem,
exit 1 on any; `--connect` reaches the real PostgreSQL, and says so when nothing answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.bootstrap import open_leanplan
from adapters.config import SETTINGS
from tests.deploy.support import REPO, free_port
from web.cli import main

KEY = "q7VfR2mX9kLp4TzW8nBc1YhJ6sDg3EaU0oIi5ZxNlMr"
DB_PASSWORD = "s3cr3t-db-pa55w0rd-xyz"
GOOD = {
    "DATABASE_URL": f"postgresql://leanplan:{DB_PASSWORD}@db.internal:5432/leanplan",
    "LEANPLAN_SECRET_KEY": KEY,
    "LEANPLAN_BASE_URL": "https://plans.example.org",
    "LEANPLAN_FEED_REFRESH_SECONDS": "1800",
    "LEANPLAN_FEED_GRACE_DAYS": "14",
    "LEANPLAN_SYNC_POLL_SECONDS": "120",
    "LEANPLAN_SYNC_PUSH_SECONDS": "0.5",
    "WEB_CONCURRENCY": "4",
    "FORWARDED_ALLOW_IPS": "172.16.0.0/12",
    "LEANPLAN_LOG_FORMAT": "json",
    "LEANPLAN_METRICS_TOKEN": "m3tr1cs-t0ken-0123456789abcdef",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting from the shell: each test says exactly what is set."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    return monkeypatch


def _check(
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    values: dict[str, str],
    *argv: str,
) -> tuple[int, list[str], list[str]]:
    for name, value in values.items():
        environment.setenv(name, value)
    status = main(["check-config", *argv])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_a_good_production_environment_passes(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _check(environment, capsys, GOOD)
    assert (status, err) == (0, [])
    assert [line.split()[0] for line in out[:-1]] == [setting.name for setting in SETTINGS]
    assert out[-1] == "configuration ok"
    shown = dict(line.split(None, 1) for line in out[:-1])
    assert shown["DATABASE_URL"] == "postgresql://leanplan:***@db.internal:5432/leanplan"
    assert shown["LEANPLAN_SECRET_KEY"] == f"set ({len(KEY)} characters, hidden)"
    assert shown["LEANPLAN_METRICS_TOKEN"].startswith("set (")
    assert shown["LEANPLAN_BASE_URL"] == "https://plans.example.org"
    assert shown["LEANPLAN_OLD_SECRET_KEY"] == "not set (default)"
    assert shown["PROMETHEUS_MULTIPROC_DIR"] == "not set (default)"
    everything = "\n".join(out)
    for secret in (KEY, DB_PASSWORD, GOOD["LEANPLAN_METRICS_TOKEN"]):
        assert secret not in everything


BAD = [
    ("DATABASE_URL", "mysql://x@y/z", "DATABASE_URL: unsupported scheme 'mysql'"),
    ("DATABASE_URL", "postgresql://leanplan:change-me@db/lp", "still the example value"),
    ("LEANPLAN_SECRET_KEY", "short-key", "LEANPLAN_SECRET_KEY: too short to be safe (9 characters"),
    ("LEANPLAN_SECRET_KEY", "ab" * 20, "LEANPLAN_SECRET_KEY: not random enough"),
    ("LEANPLAN_SECRET_KEY", "change-me-to-48-random-characters", "still the example value"),
    ("LEANPLAN_BASE_URL", "plans.example.org", "must be an absolute http:// or https:// URL"),
    ("LEANPLAN_BASE_URL", "https://plans.example.org/", "scheme and host only"),
    ("LEANPLAN_BASE_URL", "ftp://plans.example.org", "absolute http:// or https://"),
    ("LEANPLAN_BASE_URL", "https://plans.example.org:99999", "not a valid URL"),
    ("LEANPLAN_FEED_REFRESH_SECONDS", "1h", "LEANPLAN_FEED_REFRESH_SECONDS: not a whole number"),
    ("LEANPLAN_FEED_REFRESH_SECONDS", "10", "must be from 60 to 2592000, not 10"),
    ("LEANPLAN_FEED_GRACE_DAYS", "0", "LEANPLAN_FEED_GRACE_DAYS: must be from 1 to 3650"),
    ("LEANPLAN_SYNC_POLL_SECONDS", "-5", "LEANPLAN_SYNC_POLL_SECONDS: must be a positive number"),
    ("LEANPLAN_SYNC_PUSH_SECONDS", "soon", "LEANPLAN_SYNC_PUSH_SECONDS: not a number: 'soon'"),
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY: must be from 1 to 64, not 0"),
    ("FORWARDED_ALLOW_IPS", "proxy.local", "FORWARDED_ALLOW_IPS: not a comma-separated list"),
    ("LEANPLAN_LOG_FORMAT", "xml", "LEANPLAN_LOG_FORMAT: use json or text, not 'xml'"),
    ("LEANPLAN_METRICS_TOKEN", "abc", "LEANPLAN_METRICS_TOKEN: too short"),
    ("PROMETHEUS_MULTIPROC_DIR", "metrics", "PROMETHEUS_MULTIPROC_DIR: must be an absolute path"),
]


@pytest.mark.parametrize(("name", "value", "says"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_each_bad_value_is_one_clear_line(
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    says: str,
) -> None:
    status, out, err = _check(environment, capsys, GOOD | {name: value})
    assert status == 1
    assert len(err) == 1, err
    assert err[0].startswith(f"leanplan: error: {name}: ")
    assert says in err[0]
    assert "configuration ok" not in out
    assert len(out) == len(SETTINGS), "every setting is still shown"


def test_several_problems_give_one_line_each_and_no_secret(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    weak_key = "hunter2"
    status, out, err = _check(
        environment,
        capsys,
        {"LEANPLAN_SECRET_KEY": weak_key, "WEB_CONCURRENCY": "many", "LEANPLAN_BASE_URL": "x"},
    )
    assert status == 1
    assert [line.split(":")[2].strip() for line in err] == [
        "LEANPLAN_SECRET_KEY",
        "LEANPLAN_BASE_URL",
        "WEB_CONCURRENCY",
    ]
    assert weak_key not in "\n".join(out + err)


def test_an_empty_environment_needs_only_the_secret_key(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _check(environment, capsys, {})
    assert status == 1
    assert len(err) == 1 and "LEANPLAN_SECRET_KEY: not set" in err[0]
    assert all(line.endswith("(default)") for line in out)


@pytest.mark.postgres
def test_connect_reaches_the_real_postgresql(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], postgres_url: str
) -> None:
    status, out, err = _check(
        environment, capsys, GOOD | {"DATABASE_URL": postgres_url}, "--connect"
    )
    assert (status, err) == (0, [])
    store = next(line for line in out if line.startswith("store "))
    assert "PostgreSQL" in store and "answers" in store
    assert out[-1] == "configuration ok"


def test_connect_names_a_postgresql_that_does_not_answer(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    url = f"postgresql://leanplan:{DB_PASSWORD}@127.0.0.1:{port}/leanplan"
    status, out, err = _check(environment, capsys, GOOD | {"DATABASE_URL": url}, "--connect")
    assert status == 1
    assert len(err) == 1
    assert err[0].startswith(
        f"leanplan: error: DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port} "
        "as 'leanplan': "
    )
    assert DB_PASSWORD not in "\n".join(out + err)


def test_connect_to_sqlite_changes_nothing(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    database = tmp_path / "not" / "yet" / "db.sqlite3"
    values = GOOD | {"DATABASE_URL": f"sqlite:///{database}"}
    status, out, err = _check(environment, capsys, values, "--connect")
    assert (status, err) == (0, [])
    assert "does not exist yet; `leanplan init` creates it" in "\n".join(out)
    assert not (tmp_path / "not").exists(), "checking created nothing"

    open_leanplan(f"sqlite:///{database}", environ={}).close()
    status, out, err = _check(environment, capsys, values, "--connect")
    assert (status, err) == (0, [])
    assert f"SQLite file {database} is readable and writable" in "\n".join(out)


def test_the_command_in_its_own_process(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in GOOD}
    env |= {"PYTHONPATH": str(REPO), "LEANPLAN_SECRET_KEY": "tiny"}
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "check-config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "leanplan: error: LEANPLAN_SECRET_KEY: too short to be safe (4 characters, at least 32); "
        "make one with python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    ]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists(), "the default SQLite folder was not created"


def test_help_lists_every_setting_with_its_meaning(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--help"]) == 0
    out = capsys.readouterr().out
    for setting in SETTINGS:
        assert f"  {setting.name}: {setting.meaning}" in out
