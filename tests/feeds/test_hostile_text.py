"""No text a user can type changes a feed's structure, and every line stays within 75 octets."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import icalendar
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream

from adapters.ical import FeedFormat, FeedRenderer, FeedSettings, content_line
from domain.milestone import Milestone
from domain.plan import Plan
from domain.values import Person
from domain.views import PlanView

ANY_TEXT = st.text(st.characters(codec=None), max_size=300)  # surrogates and controls included
INJECTIONS = [
    "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil",
    "a;b,c\\d\\\\;\\,\\n\\N",
    "\rSUMMARY:x\n DESCRIPTION:y\x00\x0b\x0c\x1c\u2028\u2029\x85end",
    "lone \ud800 surrogate \udfff",
    "😀" * 80 + "\\" * 75,
]


def feed(title: str, description: str, plan_name: str, review_notes: str, fmt: FeedFormat) -> bytes:
    plan = Plan.start(plan_name, actor="ann", starts_on=date(2026, 1, 1))
    plan.hold_review(date(2026, 1, 9), notes=review_notes, actor="ann", decisions=(review_notes,))
    milestone = Milestone.add(
        plan.id, title=title, kind="implementation", due=date(2026, 2, 1), budget=Decimal(1),
        owner=Person("Ann", "ann@example.com"), actor="ann", description=description,
    )  # fmt: skip
    milestone.reschedule(date(2026, 2, 2), reason="because " + review_notes, actor="ann")
    renderer = FeedRenderer(FeedSettings("https://x.example"))
    return renderer.render(PlanView(plan, (milestone,)), now=datetime.now(UTC), format=fmt)


def visible(text: str) -> str:
    """What a parser must read back: line breaks as newlines, other controls gone, surrogates as U+FFFD."""
    text = re.sub("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", "\n", text)
    text = re.sub("[\x00-\x08\x0e-\x1f\x7f-\x9f]", "", text)
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


@settings(max_examples=60, deadline=None)
@given(
    title=ANY_TEXT.filter(lambda t: 0 < len(t.strip()) <= 200),
    description=ANY_TEXT,
    plan_name=ANY_TEXT.filter(lambda t: 0 < len(t.strip()) <= 200),
    notes=ANY_TEXT,
    fmt=st.sampled_from(FeedFormat),
)
@example(INJECTIONS[0], INJECTIONS[1], INJECTIONS[2], INJECTIONS[3], FeedFormat.EVENT)
@example(INJECTIONS[4], INJECTIONS[0], INJECTIONS[3], INJECTIONS[2], FeedFormat.TODO)
def test_text_cannot_break_the_structure(
    title: str, description: str, plan_name: str, notes: str, fmt: FeedFormat
) -> None:
    body = feed(title, description, plan_name, notes, fmt)
    physical = body.split(b"\r\n")
    assert physical[-1] == b"" and all(len(line) <= 75 for line in physical)
    assert all(b"\r" not in line and b"\n" not in line for line in physical)

    IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    calendar = icalendar.Calendar.from_ical(body)
    # VTIMEZONE, the review series, its override for the review held, and the milestone
    assert [c.name for c in calendar.subcomponents] == ["VTIMEZONE", "VEVENT", "VEVENT", kind(fmt)]
    begins = [line for line in physical if line.startswith(b"BEGIN:")]
    assert len(begins) == len([line for line in physical if line.startswith(b"END:")]) == 6
    milestone = calendar.subcomponents[-1]
    assert str(milestone["SUMMARY"]).startswith(visible(title.strip()))
    assert visible(description) in str(milestone["DESCRIPTION"])
    assert visible(notes) in str(calendar.subcomponents[2]["DESCRIPTION"])
    # icalendar 7.3 leaves NAME undecoded (vUnknown): unescape it as the TEXT it is
    name = re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nN" else m[1], calendar["NAME"].to_ical().decode())
    assert name == visible(plan_name.strip())


def kind(fmt: FeedFormat) -> str:
    return "VTODO" if fmt == FeedFormat.TODO else "VEVENT"

def test_a_fold_never_splits_a_character_or_an_escape() -> None:
    for content in ("DESCRIPTION:" + "é" * 100, "DESCRIPTION:" + "a\\;" * 60, "X:" + "\\\\" * 80):
        folded = content_line(content)
        assert folded.decode("utf-8").replace("\r\n ", "") == content + "\r\n"
        for piece in folded.split(b"\r\n ")[:-1]:
            piece.decode("utf-8")
            trailing = len(piece) - len(piece.rstrip(b"\\"))
            assert trailing % 2 == 0
