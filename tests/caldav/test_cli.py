"""`leanplan sync --once` and the long-running `leanplan sync` (here `python -m web.sync_cli`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from adapters.caldav_content import resource_name
from tests.caldav.conftest import FAST, SECRET_KEY, Linked
from tests.caldav.support import move_all_day
from web.sync_cli import sync_main


def _environment(sqlite_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": sqlite_url,
        "LEANPLAN_SECRET_KEY": SECRET_KEY,
        "LEANPLAN_BASE_URL": FAST.base_url,
    }


def test_once_syncs_every_link_and_says_what_it_did(
    link: Callable[..., Linked],
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    linked = link(3)
    for key, value in _environment(sqlite_url).items():
        monkeypatch.setenv(key, value)
    assert sync_main(["--once"]) == 0
    assert (
        capsys.readouterr().out.strip()
        == "1 calendar links: 4 written, 0 deleted, 0 fetched, 0 failed"
    )
    assert len(linked.calendar.names()) == 4


def test_once_without_a_secret_key_is_one_line_and_exit_1(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("LEANPLAN_SECRET_KEY", raising=False)
    assert sync_main(["--once"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "LEANPLAN_SECRET_KEY" in error


def test_the_worker_pushes_within_seconds_polls_and_stops_on_sigterm(
    link: Callable[..., Linked], sqlite_url: str, tmp_path: Path
) -> None:
    linked = link(2)
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "web.sync_cli", "--push-seconds", "0.2", "--poll-seconds", "1"],
        env={**os.environ, **_environment(sqlite_url)}, cwd=Path(__file__).parents[2],
        stdout=log, stderr=log,
    )  # fmt: skip
    try:
        name = resource_name(str(linked.milestones[0]))
        _wait(lambda: name in linked.calendar.names(), "the first push")
        linked.app.reschedule(linked.milestones[0], date(2031, 6, 1), reason="later", actor="ann")
        _wait(lambda: b"20310601" in linked.calendar.get(name)[0], "a local change pushed")
        linked.calendar.edit(name, lambda text: move_all_day(text, "20310701"))
        _wait(
            lambda: linked.app.milestone(linked.milestones[0]).due == date(2031, 7, 1),
            "a remote move",
        )
    finally:
        os.kill(process.pid, signal.SIGTERM)
        code = process.wait(timeout=10)
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()


def _wait(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {seconds} s")
