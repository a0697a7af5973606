"""The SVG charts: well-formed, complete, and safe with any title."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.values import Kind, MilestoneStatus
from domain.views import BudgetLine
from web.timeline import budget_svg, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2031, 2, 1)


@dataclass
class Bar:
    title: str
    original_due: date
    due: date
    status: MilestoneStatus = MilestoneStatus.PLANNED


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_each_milestone_shows_its_slip_between_original_and_current_due() -> None:
    svg = timeline_svg(
        [
            Bar("Late", date(2031, 1, 10), date(2031, 2, 14)),
            Bar("Early", date(2031, 3, 20), date(2031, 3, 1)),
            Bar("Steady", date(2031, 2, 20), date(2031, 2, 20), MilestoneStatus.DONE),
        ],
        TODAY,
    )
    root = parse(svg)
    groups = {g.get("data-due"): g for g in root.iter(f"{SVG}g") if g.get("class") == "milestone"}
    assert groups["2031-02-14"].get("data-slip") == "35"
    assert groups["2031-03-01"].get("data-slip") == "-19"
    assert groups["2031-02-20"].get("data-slip") == "0"
    assert "+35 d" in svg and "-19 d" in svg
    assert "Late: due 2031-02-14 (planned), originally 2031-01-10, slipped +35 days" in svg
    late_circles = list(groups["2031-02-14"].iter(f"{SVG}circle"))
    assert len(late_circles) == 2, "the original and the current due date"
    assert len(list(groups["2031-02-20"].iter(f"{SVG}circle"))) == 1, "no slip, one marker"


def test_today_and_the_reviews_in_range_are_drawn() -> None:
    svg = timeline_svg(
        [Bar("A", date(2031, 1, 10), date(2031, 3, 1))], TODAY, [date(2031, 2, 14), date(2035, 1, 1)]
    )
    assert "today, 2031-02-01" in svg
    assert "review on 2031-02-14" in svg
    assert "2035-01-01" not in svg, "reviews far outside the milestones' span are left out"
    assert parse(svg).get("role") == "img"


def test_titles_are_escaped_and_shortened() -> None:
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)> and a long tail'
    svg = timeline_svg([Bar(hostile, date(2031, 1, 10), date(2031, 1, 20))], TODAY)
    root = parse(svg)
    assert not [e for e in root.iter() if e.tag in (f"{SVG}script", f"{SVG}img", "script", "img")]
    label = next(t for t in root.iter(f"{SVG}text") if t.text and t.text.startswith("<script>"))
    assert label.text.endswith("…") and len(label.text) <= 28
    assert hostile in "".join(root.itertext()), "the full title survives as text in the tooltip"


def test_an_empty_plan_gets_a_message_not_a_chart() -> None:
    assert "No milestones yet." in timeline_svg([], TODAY)
    assert "No budget planned yet." in budget_svg(
        {k: BudgetLine(Decimal(0), Decimal(0)) for k in Kind}, "EUR"
    )
    parse(timeline_svg([], TODAY))


def test_budget_chart_pairs_planned_and_actual_per_kind() -> None:
    svg = budget_svg(
        {
            Kind.ASSUMPTION: BudgetLine(Decimal("1500.00"), Decimal("1700.50")),
            Kind.IMPLEMENTATION: BudgetLine(Decimal("12000.00"), Decimal("0.00")),
        },
        "EUR",
    )
    root = parse(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 4
    widths = {r.find(f"{SVG}title").text: float(r.get("width")) for r in bars}  # type: ignore[union-attr]
    assert widths["Implementation: planned 12,000.00 EUR"] > widths["Assumption: actual 1,700.50 EUR"] > 0
    assert widths["Implementation: actual 0.00 EUR"] == 0
