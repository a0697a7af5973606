"""The worker's tables and log following on both stores: push, a remote move, a restart."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.bootstrap import open_leanplan
from adapters.caldav_content import resource_name
from adapters.caldav_state import SideDatabase, SyncState
from adapters.caldav_sync import CalendarSync
from adapters.secrets import LinkSecrets, cipher
from tests.caldav.conftest import FAST, SECRET_KEY, make_plan
from tests.caldav.support import CalendarApp, move_all_day


def test_sync_works_and_resumes_on_either_store(
    database_url: str, collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_leanplan(database_url, environ={})
    try:
        database = SideDatabase(app)
        secrets = LinkSecrets(database, cipher(SECRET_KEY))
        plan_id, milestones = make_plan(app, 3)
        link_id = app.link_calendar(plan_id, "Team", url=collection, user="ann", actor="ann")
        secrets.put(link_id, "")
        worker = CalendarSync(app, secrets=secrets, settings=FAST, state=SyncState(database))
        assert not worker.sync_once().failed
        calendar = CalendarApp(collection)
        assert len(calendar.names()) == 4

        calendar.edit(
            resource_name(str(milestones[0])), lambda text: move_all_day(text, "20310909")
        )
        app.retitle(milestones[1], "Renamed", actor="ann")
        restarted = CalendarSync(
            app, secrets=secrets, settings=FAST, state=SyncState(SideDatabase(app))
        )
        assert restarted.state.position() == worker.state.position() > 0
        report = restarted.sync_once()
        assert not report.failed and report.written >= 2
        assert app.milestone(milestones[0]).due == date(2031, 9, 9)
        assert b"Renamed" in calendar.get(resource_name(str(milestones[1])))[0]
    finally:
        app.close()
