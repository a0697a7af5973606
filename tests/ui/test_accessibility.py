"""Pages people can use with a screen reader or a phone: ordered headings, labelled inputs, unique ids."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from uuid import UUID

import pytest

from domain.application import Leanplan
from tests.ui.support import Browser


class Outline(HTMLParser):
    """Collects heading levels, form controls and the ids that labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.ids: list[str] = []
        self.viewport = False
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(attributes["id"] or "")
        if tag == "html":
            self.lang = attributes.get("lang")
        if tag == "meta" and attributes.get("name") == "viewport":
            self.viewport = True
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))
        if tag == "label" and attributes.get("for"):
            self.labelled.add(attributes["for"] or "")
        if tag in ("input", "select", "textarea") and attributes.get("type") not in ("hidden", "submit"):
            self.controls.append(attributes)


@pytest.fixture
def full_plan(leanplan: Leanplan, plan_id: UUID, milestone_id: UUID, assumption_id: UUID) -> UUID:
    leanplan.reschedule(milestone_id, date(2031, 4, 1), reason="later", actor="alice")
    leanplan.hold_review(plan_id, held_on=date(2031, 1, 9), notes="n", decisions=("d",), actor="alice")
    return plan_id


@pytest.mark.parametrize(
    "path",
    ["/sign-in", "/plans", "{plan}", "{plan}/review", "{plan}/history", "{plan}/milestones/{milestone}"],
)
def test_headings_are_ordered_and_every_input_is_labelled(
    alice: Browser, full_plan: UUID, milestone_id: UUID, path: str
) -> None:
    url = path.format(plan=f"/plans/{full_plan}", milestone=milestone_id)
    outline = Outline()
    outline.feed(alice.get(url).text)
    assert outline.lang == "en" and outline.viewport
    assert outline.headings and outline.headings[0] == 1 and outline.headings.count(1) == 1
    for before, after in zip(outline.headings, outline.headings[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after} on {url}"
    assert len(outline.ids) == len(set(outline.ids)), f"duplicate ids on {url}"
    unlabelled = [c for c in outline.controls if c.get("id") not in outline.labelled]
    assert not unlabelled, f"inputs without a label on {url}: {unlabelled}"
