"""Crash safety: `leanplan sync --once` in a subprocess, killed with SIGKILL at random points while
it pushes 320 milestones, then restarted — until it finishes. Nothing may be duplicated or lost,
and the calendar must end up equal to the plan."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from adapters.caldav_content import parse_object, resource_name
from adapters.caldav_sync import CalendarSync
from tests.caldav.conftest import FAST, SECRET_KEY, Linked

KILLS = 22
MILESTONES = 320
CHANGED = 60


def _worker(sqlite_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "LEANPLAN_SECRET_KEY": SECRET_KEY,
        "LEANPLAN_BASE_URL": FAST.base_url,
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "web.sync_cli", "--once"],
            env=env, cwd=Path(__file__).parents[2], stdout=output, stderr=output,
        )  # fmt: skip


def _wait_for_first_write(
    process: subprocess.Popen[bytes], linked: Linked, before: dict[str, str]
) -> None:
    """Start-up time varies with the machine's load; kill points count from the first write."""
    deadline = time.monotonic() + 60
    while process.poll() is None and linked.calendar.names() == before:
        assert time.monotonic() < deadline, "the worker wrote nothing within 60 s"
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_workers_leave_no_duplicates_and_lose_nothing(
    link: Callable[..., Linked], worker: CalendarSync, sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    rng = random.Random(20260101)
    linked = link(MILESTONES)
    kills, rounds, partial = 0, 0, 0
    while kills < KILLS:
        if rounds:  # the plan keeps changing: each round has ~60 updates in flight
            for n, milestone in enumerate(rng.sample(linked.milestones, CHANGED)):
                due = date(2032, 1, 1) + timedelta(days=rounds * 400 + n)
                linked.app.reschedule(milestone, due, reason="moved while syncing", actor="ann")
        before = linked.calendar.names()
        process = _worker(sqlite_url, log)
        _wait_for_first_write(process, linked, before)
        time.sleep(rng.uniform(0.0, 0.4) if rounds else rng.uniform(0.0, 1.5))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        assert process.wait() in (0, -signal.SIGKILL), log.read_text()
        after = linked.calendar.names()
        written = sum(1 for name, etag in after.items() if before.get(name) != etag)
        partial += 0 < written < (CHANGED if rounds else MILESTONES + 1)
        rounds += 1
    assert partial >= KILLS // 3, partial  # many kills landed in the middle of a push
    finished = _worker(sqlite_url, log)
    assert finished.wait(timeout=120) == 0, log.read_text()

    objects = linked.calendar.objects()
    uids = [parse_object(body).uid for body in objects.values()]
    assert len(uids) == len(set(uids)), "duplicate UIDs"
    assert all(name == resource_name(parse_object(body).uid) for name, body in objects.items())
    view = linked.app.plan(linked.plan_id)
    link_ = view.plan.calendar_link(linked.link_id)
    wanted = worker.renderer.wanted(view, link_, worker.clock())
    assert {parse_object(body).uid: parse_object(body).fields for body in objects.values()} == {
        uid: want.fields for uid, want in wanted.items()
    }
    # The worker's own record agrees with the calendar: the next pass has nothing to write.
    report = worker.sync_once()
    assert (report.written, report.deleted, report.failed) == (0, 0, {})
    # Nothing the worker did was mistaken for an edit in the calendar.
    actors = {entry.actor for entry in linked.app.history(linked.plan_id)}
    assert actors == {"ann"}
