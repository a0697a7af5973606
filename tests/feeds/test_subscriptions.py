"""Feed tokens and fetch statistics on each store: found by token, gone when revoked, counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from adapters.bootstrap import open_leanplan
from adapters.feeds import create_feed, fetch_log_for, find_feed, hash_token
from domain.application import Leanplan
from domain.errors import FeedNotFound, InvalidInput


@pytest.fixture
def stored(database_url: str) -> Iterator[Leanplan]:
    application = open_leanplan(database_url)
    yield application
    application.close()


def test_a_token_finds_its_feed_until_revoked(stored: Leanplan) -> None:
    plan_id = stored.start_plan("Acme", actor="ann")
    created = create_feed(stored, plan_id, " Team ", actor="ann", kinds=("assumption", "assumption"))
    assert len(created.token) == 43 and created.feed.name == "Team"
    assert created.feed.token_hash == hash_token(created.token) != created.token
    assert [k.value for k in created.feed.kinds or ()] == ["assumption"]

    with open_leanplan_like(stored) as reopened:
        found = find_feed(reopened, created.token)
        assert found is not None and found[1].id == created.feed.id and found[0].id == plan_id
        other_token = created.token[:-1] + ("A" if created.token[-1] != "A" else "B")
        assert find_feed(reopened, other_token) is None

    stored.revoke_feed(plan_id, created.feed.id, actor="ann")
    assert find_feed(stored, created.token) is None
    with pytest.raises(FeedNotFound):
        stored.revoke_feed(plan_id, created.feed.id, actor="ann")


@contextmanager
def open_leanplan_like(app: Leanplan) -> Iterator[Leanplan]:
    """A second application on the same store, as another worker process would have.

    Held until the block ends: an application that is garbage-collected closes its pool, and a
    fetch log keeps only the datastore, not the application."""
    other = Leanplan(env=dict(app.env))
    try:
        yield other
    finally:
        other.close()


def test_fetches_are_counted_per_feed(stored: Leanplan) -> None:
    plan_id = stored.start_plan("Acme", actor="ann")
    first = create_feed(stored, plan_id, "One", actor="ann").feed.id
    second = create_feed(stored, plan_id, "Two", actor="ann").feed.id
    log = fetch_log_for(stored)
    moment = datetime(2026, 5, 1, 12, tzinfo=UTC)
    log.record(first, moment, "Google-Calendar-Importer", 200)
    log.record(first, moment + timedelta(hours=1), "Google-Calendar-Importer" + "x" * 1000, 304)
    assert set(log.get([first, second])) == {first}  # reading writes what this process gathered
    with open_leanplan_like(stored) as other:
        seen = fetch_log_for(other).get([first, second])
    assert set(seen) == {first}
    assert (seen[first].count, seen[first].last_status) == (2, 304)
    assert seen[first].last_fetched_at == moment + timedelta(hours=1)
    assert len(seen[first].last_user_agent or "") == 512


def test_gathered_fetches_are_written_without_another_request(stored: Leanplan) -> None:
    plan_id = stored.start_plan("Acme", actor="ann")
    feed_id = create_feed(stored, plan_id, "One", actor="ann").feed.id
    fetch_log_for(stored, flush_seconds=0.05).record(feed_id, datetime.now(UTC), "Outlook", 200)
    with open_leanplan_like(stored) as other:
        elsewhere = fetch_log_for(other)
        deadline = time.monotonic() + 5
        while not elsewhere.get([feed_id]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert elsewhere.get([feed_id])[feed_id].last_user_agent == "Outlook"


def test_a_feed_needs_a_name_and_real_filters(stored: Leanplan) -> None:
    plan_id = stored.start_plan("Acme", actor="ann")
    for name, fields in [("", {}), ("x", {"owner_email": "nope"}), ("x", {"kinds": ()})]:
        with pytest.raises(InvalidInput):
            create_feed(stored, plan_id, name, actor="ann", **fields)  # type: ignore[arg-type]
    assert stored.plan(plan_id).plan.feeds == []
