"""Issue 4 figures: rendering a plan's calendar feed against bare icalendar doing the same work,
and polling an unchanged plan's feed over HTTP against a hello-world route (bench.feeds_http).

The floor builds and serialises the very events the feed holds: their property values are read
back from a rendered feed (outside the timing), so both sides produce the same content.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import icalendar

from adapters import ical
from adapters.bootstrap import open_leanplan
from adapters.feeds import create_feed
from adapters.ical import FeedRenderer, FeedSettings
from bench.feeds_http import polling_figures
from bench.measure import Result, median_seconds, result
from domain.application import Leanplan
from domain.milestone import Milestone
from domain.plan import Plan
from domain.values import Kind, Person
from domain.views import PlanView

SETTINGS = FeedSettings("https://plans.example.org")
PEOPLE = [Person(f"Person {n}", f"person{n}@example.com") for n in range(12)]
KINDS = list(Kind)
_NOW = datetime(2026, 6, 1, tzinfo=UTC)
TEXT = "Agree the scope with the pilot customers; write down what \"done\" means, then check it.\n"


def run(quick: bool = False) -> dict[str, Result]:
    small, large = (100, 1_000) if quick else (1_000, 10_000)
    results: dict[str, Result] = {}

    app, plan_id, milestone_ids = _plan_in_app(small)
    view = app.plan(plan_id)
    floor = _bare_icalendar(view)
    cold = median_seconds(lambda: _cold_render(view), repeat=7)
    bare = median_seconds(floor, repeat=7)
    results[f"feed_cold_render_{small}_vs_icalendar"] = result(
        cold * 1e3, "ms", floor=bare * 1e3, target="<= 1.2"
    )

    renderer = FeedRenderer(SETTINGS)
    renderer.render(view, now=_NOW)
    changed = iter(milestone_ids[::5])  # still planned: only the others were completed

    def render_after_one_change() -> float:
        """Reschedules a milestone not changed before (to a day no milestone has), then renders."""
        app.reschedule(next(changed), date(2030, 1, 1), reason="bench", actor="bench")
        fresh = app.plan(plan_id)
        started = time.perf_counter()
        renderer.render(fresh, now=_NOW)
        return time.perf_counter() - started

    warm = statistics.median(render_after_one_change() for _ in range(7))
    results[f"feed_render_after_one_change_{small}_vs_full"] = result(
        warm * 1e3, "ms", floor=cold * 1e3, target="<= 0.2"
    )

    big = _plan_in_memory(large)
    big_floor = _bare_icalendar(big)
    ours = _peak_bytes(lambda: _cold_render(big))
    theirs = _peak_bytes(big_floor)
    results[f"feed_peak_memory_{large}_vs_icalendar"] = result(
        ours / 2**20, "MiB", floor=theirs / 2**20, target="<= 1.5"
    )
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'feeds.sqlite3'}"
        stored = open_leanplan(database_url, environ={})
        plan_id, _ = _populate(stored, small)
        token = create_feed(stored, plan_id, "bench", actor="bench").token
        stored.close()
        rounds = 10 if quick else 60
        results.update(polling_figures(database_url, f"/feeds/{token}.ics", small, rounds=rounds))
    return results


def _cold_render(view: PlanView) -> bytes:
    """A render with nothing kept: a fresh renderer and no VTIMEZONE cached in the process."""
    ical._vtimezone.cache_clear()
    return FeedRenderer(SETTINGS).render(view, now=_NOW)


def _milestone_fields(n: int) -> dict[str, object]:
    return {
        "title": f"Milestone {n}: pilot, review; ship",
        "kind": KINDS[n % len(KINDS)].value,
        "due": date(2026, 1, 1) + timedelta(days=n % 700),
        "budget": Decimal(1000 + n % 97 * 25),
        "owner": PEOPLE[n % len(PEOPLE)],
        "description": TEXT * (1 + n % 3),
    }


def _plan_in_app(size: int) -> tuple[Leanplan, UUID, list[UUID]]:
    """A plan with `size` milestones in an in-memory Leanplan."""
    app = Leanplan(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return app, *_populate(app, size)


def _populate(app: Leanplan, size: int) -> tuple[UUID, list[UUID]]:
    """A new plan with `size` milestones, some done, some rescheduled."""
    plan_id = app.start_plan("Bench plan", actor="bench", timezone="Europe/Berlin")
    ids = [
        app.add_milestone(plan_id, actor="bench", **_milestone_fields(n))  # type: ignore[arg-type]
        for n in range(size)
    ]
    for n, milestone_id in enumerate(ids):
        if n % 5 == 0:
            app.reschedule(milestone_id, date(2027, 1, 1) + timedelta(days=n % 300),
                           reason="supplier late", actor="bench")  # fmt: skip
        elif n % 7 == 0:
            app.complete(milestone_id, actor="bench", actual_cost="900")
    return plan_id, ids


def _plan_in_memory(size: int) -> PlanView:
    """The same kind of plan built from the aggregates alone: 10,000 milestones in seconds."""
    plan = Plan.start(
        "Bench plan", actor="bench", starts_on=date(2026, 1, 1), timezone="Europe/Berlin"
    )
    milestones = []
    for n in range(size):
        fields = _milestone_fields(n)
        milestone = Milestone.add(plan.id, actor="bench", **fields)  # type: ignore[arg-type]
        if n % 5 == 0:
            later = date(2027, 1, 1) + timedelta(days=n % 300)
            milestone.reschedule(later, reason="late", actor="bench")
        milestones.append(milestone)
    return PlanView(plan, tuple(milestones))


def _bare_icalendar(view: PlanView) -> Callable[[], bytes]:
    """Bare icalendar building and serialising the feed's milestone events from plain values."""
    feed = icalendar.Calendar.from_ical(FeedRenderer(SETTINGS).render(view, now=_NOW))
    names = ("UID", "DTSTAMP", "CREATED", "LAST-MODIFIED", "SEQUENCE", "DTSTART", "DTEND",
             "STATUS", "TRANSP", "SUMMARY", "DESCRIPTION", "CATEGORIES", "URL")  # fmt: skip
    rows = [
        [(name, _plain(event[name])) for name in names if name in event]
        for event in feed.walk("VEVENT")
        if "RRULE" not in event and "RECURRENCE-ID" not in event
    ]

    def build() -> bytes:
        calendar = icalendar.Calendar()
        calendar.add("prodid", ical.PRODID)
        calendar.add("version", "2.0")
        for row in rows:
            event = icalendar.Event()
            for name, value in row:
                event.add(name, value)
            calendar.add_component(event)
        return calendar.to_ical()

    return build


def _plain(value: object) -> object:
    """The Python value behind a parsed property, as a caller of icalendar would hold it."""
    if hasattr(value, "dt"):
        return value.dt  # type: ignore[attr-defined]
    if isinstance(value, icalendar.prop.vCategory):
        return [str(category) for category in value.cats]
    return value if isinstance(value, int) else str(value)


def _peak_bytes(work: Callable[[], object]) -> int:
    """Peak traced allocation while `work` runs, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
