"""Two writers on one database: the loser is told (ConcurrentChange), nothing is silently overwritten."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from adapters.store import eventsourcing_env
from domain.application import Leanplan
from domain.errors import ConcurrentChange
from domain.history import HistoryFilter
from domain.milestone import Milestone
from domain.plan import Plan
from domain.values import Person

BOB = Person("Bob Builder", "bob@example.com")
DUE = date(2030, 3, 1)
WINNER_DUE = date(2030, 3, 8)
LOSER_DUE = date(2030, 3, 22)


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return eventsourcing_env(database_url)


@pytest.fixture
def apps(env: dict[str, str]) -> Iterator[tuple[Leanplan, Leanplan]]:
    """Two application instances on one database, as two server processes would be."""
    with Leanplan(env=env) as first, Leanplan(env=env) as second:
        yield first, second


@pytest.fixture
def plan_id(apps: tuple[Leanplan, Leanplan]) -> UUID:
    return apps[0].start_plan("Launch", actor="alice")


@pytest.fixture
def milestone_id(apps: tuple[Leanplan, Leanplan], plan_id: UUID) -> UUID:
    return apps[0].add_milestone(
        plan_id, title="Beta", kind="implementation", due=DUE, budget=100, owner=BOB, actor="alice"
    )


def stored_topics(app: Leanplan) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=None, limit=1_000_000)]


def reschedules(app: Leanplan, plan_id: UUID, milestone_id: UUID) -> list[tuple[str, str | None, Any]]:
    wanted = HistoryFilter(milestone_id=milestone_id, types=frozenset({"MilestoneRescheduled"}))
    return [(e.actor, e.reason, e.changes["due"].new) for e in app.history_page(plan_id, wanted).entries]


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Runs each call on its own thread; returns their results, or the exceptions they raised."""
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except Exception as error:  # handed back to the test, which asserts on it
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_a_stale_reschedule_raises_concurrent_change_and_overwrites_nothing(
    apps: tuple[Leanplan, Leanplan],
    env: dict[str, str],
    plan_id: UUID,
    milestone_id: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = apps
    load = second.milestone

    def load_then_lose_the_race(wanted: UUID) -> Milestone:
        stale = load(wanted)
        first.reschedule(wanted, WINNER_DUE, reason="winner", actor="alice")
        return stale

    monkeypatch.setattr(second, "milestone", load_then_lose_the_race)
    stored_before = len(stored_topics(first))
    with pytest.raises(ConcurrentChange):
        second.reschedule(milestone_id, LOSER_DUE, reason="loser", actor="bob")

    assert len(stored_topics(first)) == stored_before + 1
    with Leanplan(env=env) as third:
        assert third.milestone(milestone_id).due == WINNER_DUE
        assert reschedules(third, plan_id, milestone_id) == [("alice", "winner", "2030-03-08")]
    assert second.plan(plan_id).milestone(milestone_id).due == WINNER_DUE

    monkeypatch.undo()
    second.reschedule(milestone_id, LOSER_DUE, reason="loser, after reloading", actor="bob")
    assert reschedules(first, plan_id, milestone_id) == [
        ("alice", "winner", "2030-03-08"),
        ("bob", "loser, after reloading", "2030-03-22"),
    ]


def test_a_stale_plan_change_raises_concurrent_change(
    apps: tuple[Leanplan, Leanplan], plan_id: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = apps
    load = second._plan

    def load_then_lose_the_race(wanted: UUID) -> Plan:
        stale = load(wanted)
        first.rename_plan(wanted, "Winner's name", actor="alice")
        return stale

    monkeypatch.setattr(second, "_plan", load_then_lose_the_race)
    with pytest.raises(ConcurrentChange):
        second.rename_plan(plan_id, "Loser's name", actor="bob")
    monkeypatch.undo()
    assert second.plan(plan_id).plan.name == "Winner's name"
    assert [e.type for e in first.history(plan_id)] == ["PlanStarted", "PlanRenamed"]


def test_two_threads_rescheduling_one_milestone_one_wins_one_is_told(
    apps: tuple[Leanplan, Leanplan],
    env: dict[str, str],
    plan_id: UUID,
    milestone_id: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    both_loaded = threading.Barrier(2, timeout=20)
    for app in apps:

        def load_and_wait(wanted: UUID, load: Callable[[UUID], Milestone] = app.milestone) -> Milestone:
            loaded = load(wanted)
            both_loaded.wait()  # both hold version 1 before either saves
            return loaded

        monkeypatch.setattr(app, "milestone", load_and_wait)

    outcomes = in_parallel(
        lambda: apps[0].reschedule(milestone_id, WINNER_DUE, reason="alice moved it", actor="alice"),
        lambda: apps[1].reschedule(milestone_id, LOSER_DUE, reason="bob moved it", actor="bob"),
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["ConcurrentChange", "Milestone"]
    winner_due, winner = (WINNER_DUE, "alice") if isinstance(outcomes[0], Milestone) else (LOSER_DUE, "bob")
    with Leanplan(env=env) as third:
        assert third.milestone(milestone_id).due == winner_due
        assert reschedules(third, plan_id, milestone_id) == [
            (winner, f"{winner} moved it", winner_due.isoformat())
        ]


def test_two_threads_adding_milestones_to_one_plan_both_succeed(
    apps: tuple[Leanplan, Leanplan], plan_id: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both take the same next slot of the plan's milestone register; the loser retries."""
    both_ready = threading.Barrier(2, timeout=20)
    first_attempt_made = threading.local()
    collisions: list[IntegrityError] = []
    for app in apps:

        def save_together(*items: Any, save: Callable[..., Any] = app.save) -> Any:
            if not getattr(first_attempt_made, "value", False):
                first_attempt_made.value = True
                both_ready.wait()  # each thread's first attempt saves alongside the other's
            try:
                return save(*items)
            except IntegrityError as error:
                collisions.append(error)
                raise

        monkeypatch.setattr(app, "save", save_together)

    def add(app: Leanplan, title: str) -> UUID:
        return app.add_milestone(
            plan_id, title=title, kind="implementation", due=DUE, budget=1, owner=BOB, actor="alice"
        )

    added = in_parallel(lambda: add(apps[0], "From one"), lambda: add(apps[1], "From two"))

    assert all(isinstance(milestone_id, UUID) for milestone_id in added), added
    assert len(collisions) == 1  # the register slot was contested once, and the loser retried
    assert sorted(apps[0].milestone_ids(plan_id)) == sorted(added)
    assert {m.title for m in apps[1].plan(plan_id).milestones} == {"From one", "From two"}
    milestone_added = f"{Milestone.MilestoneAdded.__module__}:{Milestone.MilestoneAdded.__qualname__}"
    assert stored_topics(apps[0]).count(milestone_added) == 2  # the lost attempt left no orphan
