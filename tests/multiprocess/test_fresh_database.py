"""Processes starting together on an empty PostgreSQL database: web workers and sync workers all
create the tables they need at once, and every one of them must come up.

Without serialising, concurrent `CREATE TYPE` / `CREATE TABLE IF NOT EXISTS` collide in the
catalog (UniqueViolation on pg_type), and gunicorn stops the whole server when a worker fails to
boot. Threads stand in for the processes: each opens the store on connections of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from flask import Flask

from adapters.bootstrap import open_leanplan
from adapters.caldav_state import SideDatabase
from adapters.caldav_sync import CalendarSync
from adapters.secrets import LinkSecrets, cipher
from domain.application import Leanplan
from tests.caldav.conftest import SECRET_KEY
from web import create_app

STARTING = 6


@pytest.mark.postgres
def test_processes_starting_together_on_an_empty_database_all_come_up(
    postgres_url: str,
) -> None:
    barrier = threading.Barrier(STARTING)
    opened: list[Leanplan] = []
    errors: list[BaseException] = []

    def web() -> None:
        app: Flask = create_app({"DATABASE_URL": postgres_url, "SECRET_KEY": SECRET_KEY})
        leanplan: Leanplan = app.extensions["leanplan"]
        opened.append(leanplan)
        LinkSecrets(SideDatabase(leanplan), cipher(SECRET_KEY))  # as the first calendar link does

    def sync() -> None:
        leanplan = open_leanplan(postgres_url, environ={})
        opened.append(leanplan)
        CalendarSync.from_environ(leanplan, {"LEANPLAN_SECRET_KEY": SECRET_KEY}).close()

    def start(process: Callable[[], None]) -> None:
        barrier.wait()
        try:
            process()
        except Exception as error:  # whatever it is, it is reported below
            errors.append(error)

    threads = [
        threading.Thread(target=start, args=(web if n % 2 else sync,)) for n in range(STARTING)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for leanplan in opened:
        leanplan.close()
    assert errors == []
    assert len(opened) == STARTING
