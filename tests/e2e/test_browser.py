"""What a person does in a real browser: plan, reschedule with a reason, and read it back everywhere."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.bootstrap import open_leanplan
from adapters.demo import load_demo
from tests.e2e.support import Server

pytestmark = pytest.mark.browser

SCRIPT_TITLE = "<script>window.__pwned=1</script>"
IMG_TITLE = '<img src=x onerror="window.__pwned=2">'


def start_plan(page: Any, name: str) -> None:
    form = page.locator("#new-plan")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Currency").fill("EUR")
    form.get_by_role("button", name="Start plan").click()
    page.wait_for_url("**/plans/*")


def add_milestone(page: Any, title: str, due: date) -> None:
    form = page.locator("#new-milestone")
    form.get_by_label("Title").fill(title)
    form.get_by_label("Due date").fill(due.isoformat())
    form.get_by_label("Budget (EUR)").fill("1200.00")
    form.get_by_label("Owner's name").fill("Ada Lovelace")
    form.get_by_label("Owner's email").fill("ada@example.org")
    form.get_by_role("button", name="Add milestone").click()
    page.get_by_role("status").filter(has_text="Milestone added.").wait_for()


def test_reschedule_shows_in_table_history_and_chart(page: Any) -> None:
    today = date.today()
    first_due, new_due = today + timedelta(days=20), today + timedelta(days=34)
    start_plan(page, "Browser plan")
    add_milestone(page, "Pilot customer signed", first_due)

    changes = page.locator("details.milestone-changes", has_text="Pilot customer signed")
    changes.locator("summary").click()
    form = changes.locator("form[id^=reschedule-]")
    form.get_by_label("New due date").fill(new_due.isoformat())
    form.get_by_label("Reason").fill("The customer's legal team needs two more weeks")
    form.get_by_role("button", name="Reschedule").click()
    page.get_by_role("status").filter(has_text="Milestone rescheduled.").wait_for()

    row = page.locator("#milestones tbody tr", has_text="Pilot customer signed")
    assert new_due.isoformat() in row.inner_text()
    assert "+14 days" in row.inner_text()
    chart = page.locator("#timeline svg").first.inner_html()
    assert f'data-due="{new_due.isoformat()}"' in chart
    assert f"originally {first_due.isoformat()}, slipped +14 days" in chart
    assert "+14 d</text>" in chart

    page.get_by_role("link", name="History").click()
    entry = page.locator("li.entry", has_text="Milestone rescheduled")
    text = entry.inner_text()
    assert "alice" in text
    assert first_due.isoformat() in text and new_due.isoformat() in text
    assert "The customer's legal team needs two more weeks" in text

    entry.get_by_role("link", name="Pilot customer signed").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Pilot customer signed"
    assert "+14 days" in page.locator("dl.facts").inner_text()


def test_hostile_titles_show_as_text_and_run_nothing(page: Any) -> None:
    start_plan(page, "Hostile titles")
    due = date.today() + timedelta(days=10)
    add_milestone(page, SCRIPT_TITLE, due)
    add_milestone(page, IMG_TITLE, due + timedelta(days=1))

    for path in ("", "/history"):
        if path:
            page.get_by_role("link", name="History").click()
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.get_by_role("link", name=SCRIPT_TITLE, exact=True).first.is_visible()
        assert page.get_by_role("link", name=IMG_TITLE, exact=True).first.is_visible()
    page.get_by_role("link", name=IMG_TITLE, exact=True).first.click()
    assert page.get_by_role("heading", level=1).inner_text() == IMG_TITLE
    assert page.evaluate("typeof window.__pwned") == "undefined"


@pytest.mark.parametrize("width", [375, 1280])
def test_plan_page_fits_the_screen(browser: Any, server: Server, screenshot_dir: Path, width: int) -> None:
    application = open_leanplan(server.database_url)
    try:
        plan_id = load_demo(application, actor=server.user)
    finally:
        application.close()
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"/plans/{plan_id}")
        page.get_by_label("Name").fill(server.user)
        page.get_by_label("Password").fill(server.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"**/plans/{plan_id}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"
        page.screenshot(path=str(screenshot_dir / f"plan-{width}.png"), full_page=False)
    finally:
        context.close()
