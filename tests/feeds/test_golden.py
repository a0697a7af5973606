"""Golden files: a small fixed plan renders to exactly the bytes in tests/feeds/golden/.

Nothing is normalised: the `fixed_events` fixture pins event timestamps and ids, so a difference
is a real change of output. After an intended change, regenerate with
`LEANPLAN_UPDATE_GOLDEN=1 pytest tests/feeds/test_golden.py` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, time, timedelta
from pathlib import Path

import icalendar
import pytest

from adapters.ical import FeedFilter, FeedFormat, FeedRenderer
from domain.application import Leanplan
from domain.values import Kind, Person
from domain.views import PlanView

from .conftest import TODAY

GOLDEN = Path(__file__).with_name("golden")


@pytest.fixture
def small_plan(app: Leanplan, fixed_events: None) -> PlanView:
    ann, bob = Person("Ann Müller", "ann@example.com"), Person("Bob Li", "bob@example.com")
    plan_id = app.start_plan("Acme: launch, v1", actor="ann", timezone="Europe/Berlin", currency="EUR")
    assumption_id = app.add_assumption(plan_id, "Teams will pay €20 a month", actor="ann")
    interviews = app.add_milestone(
        plan_id, title="Ten customer interviews", kind="assumption", due=date(2026, 2, 27),
        budget="500", owner=bob, actor="ann", assumption_id=assumption_id,
        description="Talk to ten teams; note objections.",
    )  # fmt: skip
    beta = app.add_milestone(
        plan_id, title="Private beta", kind="implementation", due=date(2026, 3, 31),
        budget="12000", owner=ann, actor="ann",
    )  # fmt: skip
    booth = app.add_milestone(
        plan_id, title="Trade fair booth", kind="implementation", due=date(2026, 4, 15),
        budget="3000", owner=ann, actor="ann",
    )  # fmt: skip
    app.reschedule(beta, date(2026, 4, 30), reason="Payment provider review takes 4 weeks", actor="ann")
    app.complete(interviews, actor="bob", completed_on=date(2026, 2, 26), actual_cost="430")
    app.cancel(booth, reason="Fair postponed", actor="ann")
    app.move_review_occurrence(
        plan_id, date(2026, 3, 13), new_date=date(2026, 3, 12), new_time=time(14), actor="ann"
    )
    app.skip_review_occurrence(plan_id, date(2026, 8, 14), actor="ann", reason="Summer")
    app.hold_review(
        plan_id, held_on=date(2026, 2, 13), notes="Interviews done; beta slips.",
        decisions=("Move beta to April",), actor="ann",
    )  # fmt: skip
    return app.plan(plan_id)


@pytest.mark.parametrize(
    ("name", "feed_filter", "fmt"),
    [
        ("plan.ics", FeedFilter(), FeedFormat.EVENT),
        ("plan-todo.ics", FeedFilter(), FeedFormat.TODO),
        ("ann-implementation.ics", FeedFilter("ann@example.com", frozenset({Kind.IMPLEMENTATION})), FeedFormat.EVENT),
    ],
)
def test_golden(
    small_plan: PlanView,
    renderer: FeedRenderer,
    parse: Callable[[bytes], icalendar.Calendar],
    name: str,
    feed_filter: FeedFilter,
    fmt: FeedFormat,
) -> None:
    body = renderer.render(small_plan, now=TODAY + timedelta(days=20), feed_filter=feed_filter, format=fmt)
    parse(body)
    golden = GOLDEN / name
    if os.environ.get("LEANPLAN_UPDATE_GOLDEN") == "1":
        golden.write_bytes(body)
    assert body == golden.read_bytes()
