"""Fixtures for tests of several leanplan processes on one database: the calendar fixtures of
tests/caldav (one Radicale per session, a fresh collection, counting proxies), and processes
started per test and stopped by PID at its end."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.caldav.conftest import FAST, SECRET_KEY, collection, proxy_for, radicale
from tests.multiprocess.support import Processes

__all__ = ["collection", "launch", "proxy_for", "radicale"]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[[str], Processes]]:
    """`launch(database_url)`: a starter of `leanplan serve` / `leanplan sync` on that store."""
    started: list[Processes] = []

    def start(database_url: str) -> Processes:
        environ = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LEANPLAN_SECRET_KEY": SECRET_KEY,
            "LEANPLAN_BASE_URL": FAST.base_url,
        }
        processes = Processes(tmp_path, environ)
        started.append(processes)
        return processes

    yield start
    for processes in started:
        processes.stop_all()
