"""Issue 2 figures: commands and loads on a 1,000-milestone plan, and the history replay."""

from __future__ import annotations

import itertools
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from adapters.history import history_read_model
from adapters.store import eventsourcing_env
from bench.measure import Result, median_seconds, result
from domain.application import Leanplan
from domain.milestone import Milestone
from domain.values import Person

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


class Counter(Aggregate):
    """The trivial aggregate of the floor: one integer, one event type."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


class Floor(Application):
    """The bare library on the same store: load a trivial aggregate, save one event on it."""


@contextmanager
def store(kind: str) -> Iterator[str]:
    """A fresh database of the given kind, removed afterwards."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="leanplan-bench-")
        try:
            yield f"sqlite:///{folder}/bench.sqlite3"
        finally:
            shutil.rmtree(folder)
        return
    name = f"leanplan_bench_{UUID(int=tempfile._RandomNameSequence().rng.getrandbits(128)).hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def build_plan(app: Leanplan, milestones: int, events_each: int) -> tuple[UUID, list[UUID]]:
    """A plan of `milestones` milestones with `events_each` events apiece, saved in batches."""
    plan_id = app.start_plan("Bench plan", actor="bench")
    register = app._milestone_register(plan_id)
    owner = Person("Bench Owner", "owner@example.com")
    ids: list[UUID] = []
    batch: list[Any] = []
    for number in range(milestones):
        milestone = Milestone.add(
            plan_id,
            title=f"Milestone {number}",
            kind="implementation",
            due=date(2027, 1, 1),
            budget="100.00",
            owner=owner,
            actor="bench",
        )
        for step in range(events_each - 1):
            milestone.reschedule(date(2027, 1, 2) + timedelta(days=step), reason="bench", actor="bench")
        ids.append(milestone.id)
        batch += [milestone, register.trigger_event(next_originator_version=number + 1, milestone_id=milestone.id)]
        if len(batch) >= 200:
            app.save(*batch)
            batch = []
    app.save(*batch)
    return plan_id, ids


def floor_seconds(url: str, operations: int) -> float:
    """Per operation, cycling over as many trivial aggregates as the reschedule cycles milestones."""
    app = Floor(env=eventsourcing_env(url))
    counters = [Counter() for _ in range(operations)]
    app.save(*counters)

    def load_and_save() -> None:
        for counter in counters:
            loaded = app.repository.get(counter.id)
            loaded.increment()
            app.save(loaded)

    return median_seconds(load_and_save) / operations


def reschedule_seconds(app: Leanplan, ids: list[UUID], operations: int) -> float:
    days = itertools.count(400)
    targets = itertools.cycle(ids[:operations])

    def reschedule_many() -> None:
        for _ in range(operations):
            app.reschedule(next(targets), date(2027, 1, 1) + timedelta(days=next(days)), reason="bench", actor="bench")

    return median_seconds(reschedule_many) / operations


def raw_log_seconds(app: Leanplan) -> float:
    def read_all() -> None:
        start = 0
        while notifications := app.recorder.select_notifications(start, 1_000, inclusive_of_start=False):
            start = notifications[-1].id

    return median_seconds(read_all, repeat=3)


def replay_seconds(url: str) -> float:
    """A full replay into an emptied read side; emptying it is not timed."""
    model = history_read_model(Leanplan(env=eventsourcing_env(url)))
    times = []
    for _ in range(4):
        model.reset()
        started = time.perf_counter()
        model.catch_up()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def run(quick: bool = False) -> dict[str, Result]:
    milestones, events_each, operations = (100, 10, 20) if quick else (1_000, 10, 100)
    replay_milestones = 1_000 if quick else 10_000
    results: dict[str, Result] = {}
    for kind in ("sqlite", "postgres"):
        with store(kind) as url:
            app = Leanplan(env=eventsourcing_env(url))
            plan_id, ids = build_plan(app, milestones, events_each)
            floor = floor_seconds(url, operations)
            results[f"floor_load_save_{kind}"] = result(floor * 1e3, "ms")
            results[f"reschedule_vs_floor_{kind}"] = result(
                reschedule_seconds(app, ids, operations) * 1e3, "ms", floor=floor * 1e3, target="<= 1.5"
            )
            cold = median_seconds(lambda: Leanplan(env=eventsourcing_env(url)).plan(plan_id), repeat=3)
            results[f"plan_load_cold_{milestones}_milestones_{kind}"] = result(cold * 1e3, "ms", floor=floor * 1e3)
            warm = median_seconds(lambda: app.plan(plan_id), repeat=5)
            results[f"plan_load_warm_{milestones}_milestones_{kind}"] = result(warm * 1e3, "ms", floor=floor * 1e3)
        with store(kind) as url:
            app = Leanplan(env=eventsourcing_env(url))
            build_plan(app, replay_milestones, 10)
            raw = raw_log_seconds(app)
            replay = replay_seconds(url)
            events = replay_milestones * 10
            results[f"history_replay_{events}_events_{kind}"] = result(
                events / replay, "events/s", floor=events / raw, target=">= 0.5"
            )
    return results
