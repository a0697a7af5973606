"""The renderer rebuilds only what changed, and never serves a stale component."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

import adapters.ical
from adapters.ical import FeedFormat, FeedRenderer
from domain.application import Leanplan
from domain.values import Person

ANN = Person("Ann", "ann@example.com")


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Titles of the milestones whose component was built, in order."""
    titles: list[str] = []
    build = adapters.ical.milestone_component

    def counting(milestone: Any, **options: Any) -> bytes:
        titles.append(milestone.title)
        return build(milestone, **options)

    monkeypatch.setattr(adapters.ical, "milestone_component", counting)
    return titles


def test_after_one_change_only_that_milestone_is_rebuilt(
    app: Leanplan, renderer: FeedRenderer, built: list[str]
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    ids = [
        app.add_milestone(
            plan_id, title=f"m{n}", kind="implementation", due=date(2026, 3, n + 1), budget="1",
            owner=ANN, actor="ann",
        )  # fmt: skip
        for n in range(5)
    ]
    now = datetime.now(UTC)
    renderer.render(app.plan(plan_id), now=now)
    assert built == ["m0", "m1", "m2", "m3", "m4"]
    built.clear()
    renderer.render(app.plan(plan_id), now=now)
    assert built == []
    app.reschedule(ids[2], date(2026, 4, 1), reason="late", actor="ann")
    body = renderer.render(app.plan(plan_id), now=now)
    assert built == ["m2"]
    assert b"DTSTART;VALUE=DATE:20260401" in body
    assert body == FeedRenderer(renderer.settings).render(app.plan(plan_id), now=now)


def test_formats_are_kept_apart(app: Leanplan, renderer: FeedRenderer, built: list[str]) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    app.add_milestone(
        plan_id, title="m", kind="implementation", due=date(2026, 3, 1), budget="1", owner=ANN,
        actor="ann",
    )  # fmt: skip
    view, now = app.plan(plan_id), datetime.now(UTC)
    events = renderer.render(view, now=now)
    todos = renderer.render(view, now=now, format=FeedFormat.TODO)
    assert b"BEGIN:VTODO" in todos and b"BEGIN:VTODO" not in events
    assert renderer.render(view, now=now) == events and built == ["m", "m"]


def test_a_resolved_assumption_refreshes_the_milestones_that_test_it(
    app: Leanplan, renderer: FeedRenderer, built: list[str]
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    assumption_id = app.add_assumption(plan_id, "Teams pay", actor="ann")
    app.add_milestone(
        plan_id, title="test it", kind="assumption", due=date(2026, 3, 1), budget="1", owner=ANN,
        actor="ann", assumption_id=assumption_id,
    )  # fmt: skip
    app.add_milestone(
        plan_id, title="other", kind="implementation", due=date(2026, 3, 2), budget="1",
        owner=ANN, actor="ann",
    )  # fmt: skip
    renderer.render(app.plan(plan_id), now=datetime.now(UTC))
    built.clear()
    app.validate_assumption(plan_id, assumption_id, evidence="8 of 10 paid", actor="ann")
    body = renderer.render(app.plan(plan_id), now=datetime.now(UTC))
    assert built == ["test it"]
    assert b"Teams pay (validated)" in body


def test_an_unchanged_plan_is_served_from_the_kept_feed(
    app: Leanplan, renderer: FeedRenderer, built: list[str]
) -> None:
    plan_id = app.start_plan("Acme", actor="ann")
    app.add_milestone(
        plan_id, title="m", kind="implementation", due=date(2026, 3, 1), budget="1", owner=ANN,
        actor="ann",
    )  # fmt: skip
    now = datetime.now(UTC)
    first = renderer.render(app.plan(plan_id), now=now)
    assert renderer.render(app.plan(plan_id), now=now) is first
    app.rename_plan(plan_id, "Acme 2", actor="ann")
    renamed = renderer.render(app.plan(plan_id), now=now)
    assert b"NAME:Acme 2" in renamed and built == ["m"]
