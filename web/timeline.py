"""Server-rendered SVG charts: the milestone timeline and planned vs actual budget.

Drawn on the server so the charts work without JavaScript and appear in any browser, feed reader or
e-mail. Every function is pure (data in, SVG text out) and escapes every piece of text it draws,
because titles are user input and the SVG is embedded in HTML as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from html import escape
from typing import Protocol

from domain.values import Kind, MilestoneStatus
from domain.views import BudgetLine

WIDTH = 800
LABEL_WIDTH = 210
RIGHT_MARGIN = 56
ROW_HEIGHT = 28
AXIS_HEIGHT = 44
LEGEND_HEIGHT = 36
MAX_LABEL = 28
FONT = 'font-family="system-ui, sans-serif" font-size="12"'

LATE = "#b3261e"
EARLY = "#1b7f3b"
STATUS_COLOURS = {
    MilestoneStatus.PLANNED: "#1f5fbf",
    MilestoneStatus.DONE: "#1b7f3b",
    MilestoneStatus.CANCELLED: "#777777",
}
KIND_LABELS = {
    Kind.PLAN_REVIEW: "Plan review",
    Kind.ASSUMPTION: "Assumption",
    Kind.IMPLEMENTATION: "Implementation",
}


class Dated(Protocol):
    """What the timeline needs of a milestone (domain.milestone.Milestone fits)."""

    title: str
    original_due: date
    due: date
    status: MilestoneStatus


def timeline_svg(milestones: Sequence[Dated], today: date, reviews: Iterable[date] = ()) -> str:
    """Draw each milestone's original and current due date, the slip between them, today and reviews."""
    rows = sorted(milestones, key=lambda m: (m.due, m.title))
    if not rows:
        return _empty("Milestone timeline", "No milestones yet.")
    start, end = _domain([d for m in rows for d in (m.due, m.original_due)] + [today])
    scale = _Scale(start, end)
    height = AXIS_HEIGHT + len(rows) * ROW_HEIGHT + LEGEND_HEIGHT
    bottom = AXIS_HEIGHT + len(rows) * ROW_HEIGHT
    parts = [
        _open(height, "timeline-title", "timeline-desc"),
        '<title id="timeline-title">Milestone timeline</title>',
        f'<desc id="timeline-desc">{len(rows)} milestones from {start.isoformat()} to '
        f"{end.isoformat()}; hollow circles mark original due dates, filled ones current due "
        "dates, and a line between them the slip.</desc>",
    ]
    parts += _month_ticks(scale, bottom)
    parts += _review_lines(scale, [r for r in reviews if start <= r <= end], bottom)
    for index, milestone in enumerate(rows):
        parts.append(_milestone_row(scale, milestone, AXIS_HEIGHT + index * ROW_HEIGHT))
    parts.append(_today_line(scale, today, bottom))
    parts.append(_legend(bottom + 22))
    parts.append("</svg>")
    return "\n".join(parts)


def budget_svg(per_kind: dict[Kind, BudgetLine], currency: str) -> str:
    """Draw planned vs actual spend per kind of milestone as paired horizontal bars."""
    top = max((a for line in per_kind.values() for a in (line.planned, line.actual)), default=Decimal(0))
    if top <= 0:
        return _empty("Planned vs actual budget", "No budget planned yet.")
    group = 2 * 18 + 16
    height = 20 + len(per_kind) * group + LEGEND_HEIGHT
    bar_space = WIDTH - LABEL_WIDTH - 220
    parts = [
        _open(height, "budget-title", "budget-desc"),
        '<title id="budget-title">Planned vs actual budget per kind</title>',
        f'<desc id="budget-desc">Amounts in {escape(currency)}.</desc>',
    ]
    for index, (kind, line) in enumerate(per_kind.items()):
        y = 20 + index * group
        label = escape(KIND_LABELS.get(kind, str(kind)))
        parts.append(f'<text x="8" y="{y + 22}" {FONT} font-weight="bold">{label}</text>')
        for offset, (name, amount, colour) in enumerate(
            (("planned", line.planned, "#9bb8e6"), ("actual", line.actual, "#1f5fbf"))
        ):
            bar_y = y + offset * 18
            width = float(amount / top) * bar_space
            text = escape(f"{name} {_money(amount)} {currency}")
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{bar_y}" width="{width:.1f}" height="14" fill="{colour}">'
                f"<title>{label}: {text}</title></rect>"
            )
            parts.append(f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{bar_y + 11}" {FONT}>{text}</text>')
    legend_y = height - LEGEND_HEIGHT + 20
    parts.append(
        f'<rect x="8" y="{legend_y - 10}" width="12" height="12" fill="#9bb8e6"/>'
        f'<text x="26" y="{legend_y}" {FONT}>planned</text>'
        f'<rect x="96" y="{legend_y - 10}" width="12" height="12" fill="#1f5fbf"/>'
        f'<text x="114" y="{legend_y}" {FONT}>actual</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


class _Scale:
    """Maps dates to x positions in the plotting area right of the labels."""

    def __init__(self, start: date, end: date) -> None:
        self.start = start
        self.days = max((end - start).days, 1)

    def x(self, day: date) -> float:
        span = WIDTH - LABEL_WIDTH - RIGHT_MARGIN
        return LABEL_WIDTH + (day - self.start).days / self.days * span


def _domain(days: list[date]) -> tuple[date, date]:
    """The date range shown: every date given, with a little room on both sides."""
    first, last = min(days), max(days)
    pad = timedelta(days=max(3, (last - first).days // 20))
    return first - pad, last + pad


def _open(height: int, title_id: str, desc_id: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" class="chart-svg">'
    )


def _empty(title: str, message: str) -> str:
    return (
        f'{_open(40, "empty-title", "empty-desc")}<title id="empty-title">{escape(title)}</title>'
        f'<desc id="empty-desc">{escape(message)}</desc>'
        f'<text x="8" y="24" {FONT}>{escape(message)}</text></svg>'
    )


def _month_ticks(scale: _Scale, bottom: int) -> list[str]:
    """Month starts as grid lines, thinned out so that at most about eight carry a label."""
    end = scale.start + timedelta(days=scale.days)
    months = []
    cursor = date(scale.start.year, scale.start.month, 1)
    while cursor <= end:
        if cursor >= scale.start:
            months.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    step = max(1, -(-len(months) // 8))
    parts = []
    for index, month in enumerate(months):
        x = scale.x(month)
        parts.append(
            f'<line x1="{x:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{x:.1f}" y2="{bottom}" stroke="#e2e2e2"/>'
        )
        if index % step == 0:
            parts.append(
                f'<text x="{x + 3:.1f}" y="{AXIS_HEIGHT - 10}" {FONT} fill="#555">'
                f"{month.strftime('%b %Y')}</text>"
            )
    return parts


def _review_lines(scale: _Scale, reviews: list[date], bottom: int) -> list[str]:
    parts = []
    for review in sorted(set(reviews)):
        x = scale.x(review)
        parts.append(
            f'<g class="review"><title>review on {review.isoformat()}</title>'
            f'<line x1="{x:.1f}" y1="{AXIS_HEIGHT - 4}" x2="{x:.1f}" y2="{bottom}" '
            'stroke="#7a5cc4" stroke-width="1.5" stroke-dasharray="2 3"/>'
            f'<path d="M{x - 5:.1f},{AXIS_HEIGHT - 8} h10 l-5,6 z" fill="#7a5cc4"/></g>'
        )
    return parts


def _milestone_row(scale: _Scale, milestone: Dated, top: int) -> str:
    """One row: the label, the original due date, the current one, and the slip line between them."""
    y = top + ROW_HEIGHT // 2
    slip = (milestone.due - milestone.original_due).days
    status = MilestoneStatus(milestone.status)
    colour = STATUS_COLOURS[status]
    x_old, x_new = scale.x(milestone.original_due), scale.x(milestone.due)
    label = milestone.title if len(milestone.title) <= MAX_LABEL else milestone.title[: MAX_LABEL - 1] + "…"
    summary = f"{milestone.title}: due {milestone.due.isoformat()} ({status.value})"
    if slip:
        summary += f", originally {milestone.original_due.isoformat()}, slipped {slip:+d} days"
    decoration = ' text-decoration="line-through"' if status == MilestoneStatus.CANCELLED else ""
    parts = [
        f'<g class="milestone" data-due="{milestone.due.isoformat()}" data-slip="{slip}">',
        f"<title>{escape(summary)}</title>",
        f'<text x="8" y="{y + 4}" {FONT}{decoration}>{escape(label)}</text>',
        f'<line x1="{LABEL_WIDTH}" y1="{y}" x2="{WIDTH - RIGHT_MARGIN}" y2="{y}" stroke="#f2f2f2"/>',
    ]
    if slip:
        slip_colour = LATE if slip > 0 else EARLY
        parts.append(
            f'<line x1="{x_old:.1f}" y1="{y}" x2="{x_new:.1f}" y2="{y}" stroke="{slip_colour}" '
            'stroke-width="3"/>'
        )
        parts.append(
            f'<circle cx="{x_old:.1f}" cy="{y}" r="5" fill="#fff" stroke="#555" stroke-width="1.5"/>'
        )
        anchor_x = max(x_old, x_new) + 9
        parts.append(f'<text x="{anchor_x:.1f}" y="{y + 4}" {FONT} fill="{slip_colour}">{slip:+d} d</text>')
    parts.append(f'<circle cx="{x_new:.1f}" cy="{y}" r="6" fill="{colour}"/>')
    parts.append("</g>")
    return "".join(parts)


def _today_line(scale: _Scale, today: date, bottom: int) -> str:
    x = scale.x(today)
    return (
        f'<g class="today"><title>today, {today.isoformat()}</title>'
        f'<line x1="{x:.1f}" y1="{AXIS_HEIGHT - 4}" x2="{x:.1f}" y2="{bottom}" stroke="{LATE}" '
        'stroke-width="2"/>'
        f'<text x="{x + 3:.1f}" y="{AXIS_HEIGHT - 26}" {FONT} fill="{LATE}">today</text></g>'
    )


def _legend(y: int) -> str:
    return (
        f'<g class="legend" {FONT}>'
        f'<circle cx="14" cy="{y - 4}" r="5" fill="#fff" stroke="#555" stroke-width="1.5"/>'
        f'<text x="24" y="{y}">original due</text>'
        f'<circle cx="124" cy="{y - 4}" r="6" fill="{STATUS_COLOURS[MilestoneStatus.PLANNED]}"/>'
        f'<text x="134" y="{y}">current due</text>'
        f'<line x1="226" y1="{y - 4}" x2="250" y2="{y - 4}" stroke="{LATE}" stroke-width="3"/>'
        f'<text x="256" y="{y}">slip</text>'
        f'<line x1="300" y1="{y - 12}" x2="300" y2="{y + 2}" stroke="{LATE}" stroke-width="2"/>'
        f'<text x="306" y="{y}">today</text>'
        f'<line x1="356" y1="{y - 12}" x2="356" y2="{y + 2}" stroke="#7a5cc4" stroke-width="1.5" '
        'stroke-dasharray="2 3"/>'
        f'<text x="362" y="{y}">review</text></g>'
    )


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"
