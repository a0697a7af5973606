"""The plan settings forms: rename, review cadence, and moving or skipping one review.

Each form changes the plan as the signed-in user; bad input is explained in the form and appends
nothing; a viewer sees no form and a viewer's post is refused with the 403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, time, timedelta
from uuid import UUID

import pytest

from domain.application import Leanplan
from domain.history import HistoryEntry
from domain.plan import MovedOccurrence
from tests.ui.support import Browser

Guard = Callable[[UUID], AbstractContextManager[None]]

FORMS = {
    "name": ("rename-plan", {"name": "Launch v2"}),
    "review-cadence": (
        "review-cadence",
        {"rrule": "FREQ=WEEKLY;BYDAY=MO", "start_time": "09:30", "duration_minutes": "45"},
    ),
    "review-occurrences/move": (
        "move-review",
        {"new_date": "2031-01-01", "new_time": "14:00", "reason": ""},
    ),
    "review-occurrences/skip": ("skip-review", {"reason": "holidays"}),
}


def last_entry(leanplan: Leanplan, plan_id: UUID) -> HistoryEntry:
    return list(leanplan.history(plan_id))[-1]


def scheduled(leanplan: Leanplan, plan_id: UUID) -> list[date]:
    """The plan's next review days by its cadence, as the move and skip forms offer them."""
    cadence = leanplan.plan(plan_id).plan.cadence
    return cadence.dates_between(cadence.starts_on, cadence.starts_on + timedelta(days=120))


def form_error(page: str, form_id: str) -> str:
    return page.split(f'id="{form_id}-error">', 1)[1].split("</p>", 1)[0]


def test_editors_see_every_settings_form_with_the_current_values(
    bob: Browser, leanplan: Leanplan, plan_id: UUID
) -> None:
    page = bob.get(f"/plans/{plan_id}").text
    for form_id, _ in FORMS.values():
        assert f'id="{form_id}"' in page
    assert 'id="rename-plan-name" name="name" type="text" value="Launch"' in page
    assert 'value="FREQ=MONTHLY;BYDAY=2FR"' in page
    assert 'id="review-cadence-start_time" name="start_time" type="time" value="10:00"' in page
    first = scheduled(leanplan, plan_id)[0]
    assert page.count(f'<option value="{first.isoformat()}">{first.strftime("%a %Y-%m-%d")}</option>') == 2


def test_rename_the_plan(bob: Browser, leanplan: Leanplan, plan_id: UUID) -> None:
    answer = bob.post(f"/plans/{plan_id}/settings/name", {"form_id": "rename-plan", "name": " Launch v2 "})
    assert answer.status_code == 303 and answer.location == f"/plans/{plan_id}#settings"
    assert leanplan.plan(plan_id).plan.name == "Launch v2"
    entry = last_entry(leanplan, plan_id)
    assert (entry.type, entry.actor) == ("PlanRenamed", "bob")
    assert (entry.changes["name"].old, entry.changes["name"].new) == ("Launch", "Launch v2")
    assert "<h1>Launch v2</h1>" in bob.get(answer.location).text


@pytest.mark.parametrize("name", ["   ", "x" * 201])
def test_a_refused_name_is_explained_and_changes_nothing(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard, name: str
) -> None:
    with appends_nothing(plan_id):
        answer = alice.post(f"/plans/{plan_id}/settings/name", {"form_id": "rename-plan", "name": name})
    assert answer.status_code == 422
    assert "a plan name has 1 to 200 characters" in form_error(answer.text, "rename-plan")
    assert leanplan.plan(plan_id).plan.name == "Launch"


def test_set_the_review_cadence(alice: Browser, leanplan: Leanplan, plan_id: UUID) -> None:
    form = {"form_id": "review-cadence", **FORMS["review-cadence"][1]}
    answer = alice.post(f"/plans/{plan_id}/settings/review-cadence", form)
    assert answer.status_code == 303 and answer.location == f"/plans/{plan_id}#reviews"
    cadence = leanplan.plan(plan_id).plan.cadence
    assert (cadence.rrule, cadence.start_time, cadence.duration_minutes) == (
        "FREQ=WEEKLY;BYDAY=MO",
        time(9, 30),
        45,
    )
    entry = last_entry(leanplan, plan_id)
    assert (entry.type, entry.actor) == ("ReviewCadenceSet", "alice")
    assert entry.changes["rrule"].new == "FREQ=WEEKLY;BYDAY=MO"
    page = alice.get(answer.location).text
    assert "<code>FREQ=WEEKLY;BYDAY=MO</code>, starting at 09:30 and lasting 45 minutes" in page
    assert "Mon " in page.split('id="reviews-h"', 1)[1].split("</ul>", 1)[0], "next reviews are Mondays"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("rrule", "FREQ=SOMETIMES", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("rrule", "FREQ=DAILY;BYHOUR=9", "the time of day is set by start_time"),
        ("start_time", "25:00", "give a time as HH:MM"),
        ("start_time", "10:00+02:00", "give a time as HH:MM"),
        ("duration_minutes", "an hour", "give the duration in whole minutes"),
        ("duration_minutes", "0", "a review lasts from 1 minute to 24 hours"),
    ],
)
def test_a_refused_cadence_is_explained_and_keeps_the_input(
    alice: Browser, plan_id: UUID, appends_nothing: Guard, field: str, value: str, message: str
) -> None:
    form = {"form_id": "review-cadence", **FORMS["review-cadence"][1], field: value}
    with appends_nothing(plan_id):
        answer = alice.post(f"/plans/{plan_id}/settings/review-cadence", form)
    assert answer.status_code == 422
    assert message in form_error(answer.text, "review-cadence")
    assert f'name="{field}" type=' in answer.text and f'value="{value}"' in answer.text
    assert f'id="review-cadence-{field}" name="{field}"' in answer.text


def test_move_one_review(bob: Browser, leanplan: Leanplan, plan_id: UUID) -> None:
    first, second = scheduled(leanplan, plan_id)[:2]
    new_day = first + timedelta(days=3)
    form = {
        "form_id": "move-review",
        "occurrence": first.isoformat(),
        "new_date": new_day.isoformat(),
        "new_time": "14:30",
        "reason": "the CEO travels",
    }
    answer = bob.post(f"/plans/{plan_id}/settings/review-occurrences/move", form)
    assert answer.status_code == 303 and answer.location == f"/plans/{plan_id}#reviews"
    plan = leanplan.plan(plan_id).plan
    assert plan.moved_occurrences == {first: MovedOccurrence(new_day, time(14, 30))}
    entry = last_entry(leanplan, plan_id)
    assert (entry.type, entry.actor, entry.reason) == ("ReviewOccurrenceMoved", "bob", "the CEO travels")
    assert plan.review_dates(first, second) == [(new_day, time(14, 30)), (second, time(10, 0))]
    page = bob.get(answer.location).text
    assert f"{first.strftime('%a %Y-%m-%d')} (moved to {new_day.strftime('%a %Y-%m-%d')} at 14:30)" in page


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"occurrence": "2031-13-01"}, "give a date as YYYY-MM-DD"),
        ({"new_date": "next Tuesday"}, "give a date as YYYY-MM-DD"),
        ({"new_time": "noon"}, "give a time as HH:MM"),
    ],
)
def test_a_refused_move_is_explained_and_changes_nothing(
    alice: Browser,
    leanplan: Leanplan,
    plan_id: UUID,
    appends_nothing: Guard,
    changes: dict[str, str],
    message: str,
) -> None:
    first = scheduled(leanplan, plan_id)[0]
    form = {"form_id": "move-review", "occurrence": first.isoformat(), "new_date": "2031-01-01",
            "new_time": "14:00", **changes}  # fmt: skip
    with appends_nothing(plan_id):
        answer = alice.post(f"/plans/{plan_id}/settings/review-occurrences/move", form)
    assert answer.status_code == 422
    assert message in form_error(answer.text, "move-review")


def test_a_day_without_a_review_cannot_be_moved_or_skipped(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    not_scheduled = scheduled(leanplan, plan_id)[0] + timedelta(days=1)
    for action, (form_id, fields) in list(FORMS.items())[2:]:
        form = {"form_id": form_id, **fields, "occurrence": not_scheduled.isoformat()}
        with appends_nothing(plan_id):
            answer = alice.post(f"/plans/{plan_id}/settings/{action}", form)
        assert answer.status_code == 422, action
        error = form_error(answer.text, form_id)
        assert f"no review is scheduled on {not_scheduled.isoformat()}" in error


def test_skip_one_review_needs_a_reason(
    alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    first, second = scheduled(leanplan, plan_id)[:2]
    url = f"/plans/{plan_id}/settings/review-occurrences/skip"
    form = {"form_id": "skip-review", "occurrence": second.isoformat(), "reason": "  "}
    with appends_nothing(plan_id):
        refused = alice.post(url, form)
    assert refused.status_code == 422
    assert "reason" in form_error(refused.text, "skip-review")
    answer = alice.post(url, {**form, "reason": "summer break"})
    assert answer.status_code == 303 and answer.location == f"/plans/{plan_id}#reviews"
    plan = leanplan.plan(plan_id).plan
    assert plan.skipped_occurrences == {second: "summer break"}
    entry = last_entry(leanplan, plan_id)
    assert (entry.type, entry.actor, entry.reason) == ("ReviewOccurrenceSkipped", "alice", "summer break")
    assert [day for day, _ in plan.review_dates(first, second)] == [first]
    assert f"{second.strftime('%a %Y-%m-%d')} (skipped)" in alice.get(answer.location).text


def test_viewers_see_no_settings_and_their_posts_are_forbidden(
    carol: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    page = carol.get(f"/plans/{plan_id}").text
    assert 'id="settings"' not in page and "/settings/" not in page
    occurrence = scheduled(leanplan, plan_id)[0].isoformat()
    for action, (form_id, fields) in FORMS.items():
        with appends_nothing(plan_id):
            answer = carol.post(
                f"/plans/{plan_id}/settings/{action}", {"form_id": form_id, "occurrence": occurrence, **fields}
            )
        assert answer.status_code == 403, action
        assert "You may not change this plan" in answer.text


def test_non_members_get_404_and_forged_posts_400(
    dave: Browser, alice: Browser, leanplan: Leanplan, plan_id: UUID, appends_nothing: Guard
) -> None:
    with appends_nothing(plan_id):
        assert dave.post(f"/plans/{plan_id}/settings/name", {"name": "Mine"}).status_code == 404
        forged = alice.post(f"/plans/{plan_id}/settings/name", {"name": "Mine"}, csrf="forged")
        assert forged.status_code == 400
        assert alice.post(f"/plans/{plan_id}/settings/name", {"name": "Mine"}, csrf=None).status_code == 400
    assert leanplan.plan(plan_id).plan.name == "Launch"
