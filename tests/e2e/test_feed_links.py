"""A feed made in a real browser: its links copied with the Copy buttons, and the copied link works."""

from __future__ import annotations

import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from tests.e2e.support import Server

pytestmark = pytest.mark.browser


def test_create_a_feed_copy_its_links_and_subscribe(page: Any, server: Server, screenshot_dir: Path) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    form = page.locator("#new-plan")
    form.get_by_label("Name").fill("Feed plan")
    form.get_by_role("button", name="Start plan").click()
    page.wait_for_url("**/plans/*")
    due = date.today() + timedelta(days=30)
    form = page.locator("#new-milestone")
    form.get_by_label("Title").fill("Pilot customer signed")
    form.get_by_label("Due date").fill(due.isoformat())
    form.get_by_label("Owner's name").fill("Ada Lovelace")
    form.get_by_label("Owner's email").fill("ada@example.org")
    form.get_by_role("button", name="Add milestone").click()
    page.get_by_role("status").filter(has_text="Milestone added.").wait_for()

    page.set_viewport_size({"width": 375, "height": 800})  # a phone, from here on
    page.get_by_role("link", name="Calendar feeds").click()
    form = page.locator("#new-feed")
    form.get_by_label("Name").fill("Ada's Google Calendar")
    form.get_by_label("Implementation").check()
    form.get_by_role("button", name="Create feed").click()
    page.get_by_role("heading", name="The links of the new feed “Ada's Google Calendar”").wait_for()

    fits_the_screen(page, screenshot_dir / "feed-created-375.png")
    links = {}
    for field, button in [("#feed-url", "Copy the feed link (https)"), ("#feed-webcal-url", "Copy the webcal link")]:
        shown = page.locator(field).input_value()
        page.get_by_role("button", name=button).click()
        page.locator(f"{field}-status").filter(has_text="Copied.").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == shown
        links[field] = shown
    assert links["#feed-url"].startswith(f"{server.url}/feeds/")
    assert links["#feed-webcal-url"] == "webcal" + links["#feed-url"].removeprefix("http")

    with urllib.request.urlopen(links["#feed-url"], timeout=10) as answer:
        body = answer.read()
    IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")]
    assert summaries == ["Pilot customer signed (implementation, planned)"]

    page.get_by_role("link", name="See when it is fetched").click()
    assert "200 OK: the app got the whole feed" in page.locator("#fetches").inner_text()
    fits_the_screen(page, screenshot_dir / "feed-debug-375.png")


def fits_the_screen(page: Any, screenshot: Path) -> None:
    """Measured once the stylesheet is in: a page read while it loads is laid out unstyled."""
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px on a phone"
    page.screenshot(path=str(screenshot), full_page=True)
