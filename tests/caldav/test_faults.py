"""Failures: a proxy failing 30% of requests (503 or a dropped connection, before or after the
server acted), and a server refusing the password."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest

from adapters.caldav_content import parse_object, resource_name
from adapters.caldav_sync import CalendarSync
from tests.caldav.conftest import Linked
from tests.caldav.support import CalendarApp, Faults, Proxy, Radicale, move_all_day


def _converge(worker: CalendarSync, linked: Linked, passes: int = 30) -> int:
    for attempt in range(1, passes + 1):
        report = worker.sync_once()
        state = worker.state.link(linked.link_id)
        if (
            not report.failed
            and state is not None
            and state.status == "ok"
            and _matches(worker, linked)
        ):
            return attempt
    raise AssertionError(f"no convergence after {passes} passes")


def _matches(worker: CalendarSync, linked: Linked) -> bool:
    view = linked.app.plan(linked.plan_id)
    link = view.plan.calendar_link(linked.link_id)
    wanted = {
        uid: w.fields for uid, w in worker.renderer.wanted(view, link, worker.clock()).items()
    }
    remote = {}
    for name, body in linked.calendar.objects().items():
        parsed = parse_object(body)
        assert name == resource_name(parsed.uid)
        remote[parsed.uid] = parsed.fields
    return remote == wanted


def test_the_sync_converges_through_a_proxy_failing_30_percent(
    link: Callable[..., Linked],
    worker: CalendarSync,
    proxy_for: Callable[..., Proxy],
    collection: str,
) -> None:
    proxy = proxy_for(faults=Faults(rate=0.3, seed=7))
    linked = link(60, url=proxy.url + urlsplit(collection).path)
    _converge(worker, linked)

    for milestone in linked.milestones[:10]:
        linked.app.reschedule(milestone, date(2032, 1, 1), reason="next year", actor="ann")
    linked.app.cancel(linked.milestones[10], reason="dropped", actor="ann")
    moved = linked.milestones[20]
    linked.calendar.edit(resource_name(str(moved)), lambda text: move_all_day(text, "20320202"))
    _converge(worker, linked)

    assert sum(proxy.failed.values()) > 20  # faults of every kind really happened
    assert set(proxy.failed) == {"503", "drop_before", "drop_after"}
    uids = [parse_object(body).uid for body in linked.calendar.objects().values()]
    assert len(uids) == len(set(uids)) == 61
    assert linked.app.milestone(moved).due == date(2032, 2, 2)
    moves = [
        e for e in linked.app.history(linked.plan_id)
        if e.milestone_id == moved and e.actor == "calendar:Team"
    ]  # fmt: skip
    assert [e.type for e in moves] == ["MilestoneRescheduled"]  # once, however often retried


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A Radicale that wants a password: ann's is 'right'."""
    folder = tmp_path_factory.mktemp("guarded")
    htpasswd = folder / "users"
    htpasswd.write_text("ann:right\n")
    server = Radicale(folder, htpasswd=htpasswd)
    CalendarApp(f"{server.url}/ann/work/", "ann", "right").create_collection()
    yield server
    server.stop()


def test_a_refused_password_marks_the_link_failing_and_is_retried_slowly(
    link: Callable[..., Linked], worker: CalendarSync, guarded: Radicale
) -> None:
    linked = link(2, url=f"{guarded.url}/ann/work/", password="wrong")
    report = worker.sync_once()
    assert "HTTP 401" in report.failed[linked.link_id]
    state = worker.state.link(linked.link_id)
    assert state is not None and state.status == "failing" and "401" in (state.last_error or "")
    assert state.next_attempt_at is not None
    assert state.next_attempt_at - worker.clock() >= timedelta(minutes=4)
    sent = worker.counter.total
    for _ in range(5):
        worker.sync_once()
    assert worker.counter.total == sent  # no hot loop: nothing is sent before the backoff ends
    assert worker.counter.by_method == Counter({"REPORT": 1})  # one try: no retries of a 401


def test_the_right_password_is_sent_from_the_first_request(
    link: Callable[..., Linked], worker: CalendarSync, guarded: Radicale
) -> None:
    url = f"{guarded.url}/ann/right{id(worker)}/"
    CalendarApp(url, "ann", "right").create_collection()
    linked = link(2, url=url, password="right")
    report = worker.sync_once()
    assert not report.failed
    linked.calendar = CalendarApp(url, "ann", "right")
    assert len(linked.calendar.names()) == 3
