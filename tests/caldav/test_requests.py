"""What goes over the wire, counted by a proxy in front of Radicale: sync tokens are really used,
an idle sync is one small request, and servers without sync tokens still work by ETags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from urllib.parse import urlsplit

from adapters.caldav_content import resource_name
from adapters.caldav_sync import CalendarSync
from tests.caldav.conftest import Linked
from tests.caldav.support import CalendarApp, Proxy, move_all_day


def _via(proxy: Proxy, collection: str) -> str:
    return proxy.url + urlsplit(collection).path


def test_sync_tokens_make_an_idle_sync_one_small_request(
    link: Callable[..., Linked],
    worker: CalendarSync,
    proxy_for: Callable[..., Proxy],
    collection: str,
) -> None:
    proxy = proxy_for()
    linked = link(40, url=_via(proxy, collection))
    worker.sync_once()
    assert proxy.counts["PUT"] == 41  # 40 milestones and the review series
    proxy.reset()
    worker.sync_once()  # the changes since the first token are our own writes: echoes by ETag
    assert dict(proxy.counts) == {"REPORT": 1}
    proxy.reset()
    worker.sync_once()
    assert dict(proxy.counts) == {"REPORT": 1}
    idle_bytes = proxy.response_bytes[0][1]
    assert idle_bytes < 600  # a sync token and nothing else, not 40 hrefs and ETags

    linked.app.reschedule(linked.milestones[3], date(2031, 7, 7), reason="later", actor="ann")
    proxy.reset()
    worker.sync_once()
    assert sum(proxy.counts.values()) <= 2
    assert proxy.counts["PUT"] == 1

    proxy.reset()
    worker.sync_once()  # sees its own PUT in the changes, by ETag: nothing fetched
    assert dict(proxy.counts) == {"REPORT": 1}


def test_the_idle_answer_does_not_grow_with_the_calendar(
    link: Callable[..., Linked],
    worker: CalendarSync,
    proxy_for: Callable[..., Proxy],
    radicale: object,
) -> None:
    sizes = []
    for count in (5, 120):
        url = f"{radicale.url}/ann/size{count}/"  # type: ignore[attr-defined]
        CalendarApp(url).create_collection()
        proxy = proxy_for()
        link(count, url=_via(proxy, url))
        worker.sync_once()
        worker.sync_once()
        proxy.reset()
        worker.sync_once()
        sizes.append(sum(size for method, size in proxy.response_bytes if method == "REPORT"))
    assert sizes[1] <= sizes[0] * 1.2


def test_a_server_without_sync_tokens_is_followed_by_etags(
    link: Callable[..., Linked],
    worker: CalendarSync,
    proxy_for: Callable[..., Proxy],
    collection: str,
) -> None:
    proxy = proxy_for(refuse=frozenset({"REPORT"}))
    linked = link(3, url=_via(proxy, collection))
    worker.sync_once()
    state = worker.state.link(linked.link_id)
    assert state is not None and state.sync_mode == "etag" and state.status == "ok"
    proxy.reset()
    worker.sync_once()
    assert dict(proxy.counts) == {"PROPFIND": 1}

    moved, deleted = linked.milestones[0], linked.milestones[1]
    linked.calendar.edit(resource_name(str(moved)), lambda text: move_all_day(text, "20310303"))
    linked.calendar.delete(resource_name(str(deleted)))
    worker.sync_once()
    assert linked.app.milestone(moved).due == date(2031, 3, 3)
    types = [e.type for e in linked.app.history(linked.plan_id) if e.milestone_id == deleted]
    assert types[-1] == "CalendarDeletionNoted"
    assert resource_name(str(deleted)) in linked.calendar.names()


def test_a_forgotten_sync_token_means_one_full_listing(
    link: Callable[..., Linked],
    worker: CalendarSync,
    proxy_for: Callable[..., Proxy],
    collection: str,
) -> None:
    proxy = proxy_for()
    linked = link(3, url=_via(proxy, collection))
    worker.sync_once()
    worker.state.set_sync(
        linked.link_id, token="http://radicale.org/ns/sync/forgotten", mode="token"
    )
    proxy.reset()
    report = worker.sync_once()
    assert not report.failed
    assert proxy.counts["REPORT"] == 2 and proxy.counts["GET"] == 0 and proxy.counts["PUT"] == 0
