"""History, the review report and the budget, as the application derives them from events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from domain.application import Leanplan
from domain.errors import InvalidInput
from domain.history import Change, HistoryFilter, Slip
from domain.milestone import Milestone
from domain.values import AssumptionStatus, Kind, Person

BOB = Person("Bob Builder", "bob@example.com")
CAROL = Person("Carol Coder", "carol@example.com")


def now() -> datetime:
    return datetime.now(tz=UTC)


@pytest.fixture
def app() -> Iterator[Leanplan]:
    with Leanplan() as application:
        yield application


@dataclass
class Story:
    """A plan with a review meeting in the middle of its history, and the moments in between."""

    plan_id: UUID
    beta: UUID
    docs: UUID
    ads: UUID
    interviews: UUID
    assumption_id: UUID
    before_review: datetime
    after_review: datetime
    end: datetime


@pytest.fixture
def story(app: Leanplan) -> Story:
    plan_id = app.start_plan("Launch", actor="alice", currency="EUR")
    beta = app.add_milestone(
        plan_id,
        title="Beta",
        kind="implementation",
        due=date(2030, 3, 1),
        budget="100",
        owner=BOB,
        actor="alice",
    )
    docs = app.add_milestone(
        plan_id,
        title="Docs",
        kind="implementation",
        due=date(2030, 4, 1),
        budget="200",
        owner=BOB,
        actor="alice",
    )
    ads = app.add_milestone(
        plan_id,
        title="Ads",
        kind="plan_review",
        due=date(2030, 5, 1),
        budget="50",
        owner=CAROL,
        actor="carol",
    )
    assumption_id = app.add_assumption(plan_id, "Teams pay monthly", actor="alice")
    before_review = now()
    app.hold_review(plan_id, held_on=date(2030, 2, 14), notes="first review", actor="alice")
    after_review = now()
    interviews = app.add_milestone(
        plan_id,
        title="Interviews",
        kind="assumption",
        due=date(2030, 3, 10),
        budget="40",
        owner=CAROL,
        actor="carol",
        assumption_id=assumption_id,
    )
    app.reschedule(beta, date(2030, 3, 11), reason="supplier late", actor="bob")
    app.reschedule(beta, date(2030, 3, 16), reason="tests failing", actor="bob")
    app.complete(docs, actor="bob", completed_on=date(2030, 3, 30), actual_cost="180")
    app.cancel(ads, reason="no budget", actor="carol")
    app.validate_assumption(plan_id, assumption_id, evidence="7 of 10 would pay", actor="carol")
    app.change_budget(beta, "150", reason="extra device", actor="alice")
    return Story(plan_id, beta, docs, ads, interviews, assumption_id, before_review, after_review, now())


class TestHistoryEntries:
    def test_positions_run_from_one_in_time_order(self, app: Leanplan, story: Story) -> None:
        entries = list(app.history(story.plan_id))
        assert [e.position for e in entries] == list(range(1, len(entries) + 1))
        assert [e.at for e in entries] == sorted(e.at for e in entries)
        assert len(entries) == app.plan(story.plan_id).version == 13
        assert all(e.at.utcoffset() == timedelta(0) and e.plan_id == story.plan_id for e in entries)

    def test_every_event_has_an_actor_and_utc_time_and_every_change_of_commitment_a_reason(
        self, app: Leanplan, story: Story
    ) -> None:
        events = app.plan_events(story.plan_id)
        assert all(e.actor in {"alice", "bob", "carol"} for e in events)
        assert all(e.timestamp.utcoffset() == timedelta(0) for e in events)
        needs_reason = (
            Milestone.MilestoneRescheduled,
            Milestone.MilestoneCancelled,
            Milestone.MilestoneReopened,
            Milestone.MilestoneBudgetChanged,
        )
        with_reason = [e for e in events if isinstance(e, needs_reason)]
        assert len(with_reason) == 4
        assert all(e.reason and e.reason.strip() == e.reason for e in with_reason)

    def test_an_entry_names_actor_type_milestone_changes_and_reason(
        self, app: Leanplan, story: Story
    ) -> None:
        slips = [e for e in app.history(story.plan_id) if e.type == "MilestoneRescheduled"]
        assert [(e.actor, e.milestone_id, e.assumption_id, e.reason) for e in slips] == [
            ("bob", story.beta, None, "supplier late"),
            ("bob", story.beta, None, "tests failing"),
        ]
        assert slips[0].changes == {"due": Change("2030-03-01", "2030-03-11")}

    def test_a_new_milestone_shows_each_field_as_new_and_the_assumption_it_tests(
        self, app: Leanplan, story: Story
    ) -> None:
        [added] = [
            e
            for e in app.history(story.plan_id)
            if e.type == "MilestoneAdded" and e.milestone_id == story.interviews
        ]
        assert added.assumption_id == story.assumption_id
        assert added.changes == {
            "title": Change(None, "Interviews"),
            "description": Change(None, ""),
            "kind": Change(None, "assumption"),
            "due": Change(None, "2030-03-10"),
            "budget": Change(None, "40.00"),
            "owner": Change(None, {"name": "Carol Coder", "email": "carol@example.com"}),
        }

    def test_status_budget_and_assumption_changes_show_old_and_new(self, app: Leanplan, story: Story) -> None:
        by_type = {e.type: e for e in app.history(story.plan_id)}
        completed = by_type["MilestoneCompleted"]
        assert completed.changes["status"] == Change("planned", "done")
        assert completed.changes["actual_cost"] == Change(None, "180.00")
        assert by_type["MilestoneCancelled"].changes["status"] == Change("planned", "cancelled")
        assert by_type["MilestoneCancelled"].reason == "no budget"
        assert by_type["MilestoneBudgetChanged"].changes == {"budget": Change("100.00", "150.00")}
        assert by_type["MilestoneBudgetChanged"].reason == "extra device"
        validated = by_type["AssumptionValidated"]
        assert (validated.milestone_id, validated.assumption_id) == (None, story.assumption_id)
        assert validated.changes == {
            "status": Change("untested", "validated"),
            "evidence": Change(None, "7 of 10 would pay"),
        }

    def test_a_moved_review_shows_where_and_when_it_moved_to(self, app: Leanplan) -> None:
        with Leanplan(clock=lambda: datetime(2025, 1, 1, tzinfo=UTC)) as dated:
            plan_id = dated.start_plan("Launch", actor="alice")
            dated.move_review_occurrence(
                plan_id, date(2025, 1, 10), new_date=date(2025, 1, 13), new_time=time(15), actor="bob"
            )
            moved = list(dated.history(plan_id))[-1]
        assert moved.type == "ReviewOccurrenceMoved"
        assert moved.changes == {
            "occurrence": Change(None, "2025-01-10"),
            "new_date": Change(None, "2025-01-13"),
            "new_time": Change(None, "15:00"),
        }

    def test_a_clock_stepping_back_cannot_put_a_milestones_events_out_of_order(
        self, app: Leanplan, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Two app servers whose clocks disagree, or an NTP step, stamp a later change earlier.
        plan_id = app.start_plan("Launch", actor="alice")
        beta = app.add_milestone(
            plan_id, title="Beta", kind="implementation", due=date(2030, 3, 1), budget=0, owner=BOB, actor="a"
        )
        monkeypatch.setattr(
            Milestone.MilestoneRescheduled,
            "create_timestamp",
            staticmethod(lambda: now() - timedelta(hours=1)),
        )
        app.reschedule(beta, date(2030, 3, 8), reason="late", actor="bob")
        assert [e.type for e in app.history(plan_id)] == [
            "PlanStarted",
            "MilestoneAdded",
            "MilestoneRescheduled",
        ]
        assert app.plan_as_of(plan_id, at=now()).milestone(beta).due == date(2030, 3, 8)
        assert [s.days for s in app.changes(plan_id).rescheduled] == [7]


class TestHistoryFiltersAndPaging:
    def test_filtering_by_milestone_gives_that_milestones_history(self, app: Leanplan, story: Story) -> None:
        page = app.history_page(story.plan_id, HistoryFilter(milestone_id=story.beta))
        assert [e.type for e in page.entries] == [
            "MilestoneAdded",
            "MilestoneRescheduled",
            "MilestoneRescheduled",
            "MilestoneBudgetChanged",
        ]
        assert page.next_cursor is None

    def test_filtering_by_actor(self, app: Leanplan, story: Story) -> None:
        entries = app.history_page(story.plan_id, HistoryFilter(actor="carol")).entries
        assert [(e.type, e.milestone_id) for e in entries] == [
            ("MilestoneAdded", story.ads),
            ("MilestoneAdded", story.interviews),
            ("MilestoneCancelled", story.ads),
            ("AssumptionValidated", None),
        ]

    def test_filtering_by_event_types(self, app: Leanplan, story: Story) -> None:
        wanted = HistoryFilter(types=frozenset({"MilestoneCompleted", "MilestoneCancelled"}))
        entries = app.history_page(story.plan_id, wanted).entries
        assert [(e.type, e.milestone_id) for e in entries] == [
            ("MilestoneCompleted", story.docs),
            ("MilestoneCancelled", story.ads),
        ]

    def test_filtering_by_time_range(self, app: Leanplan, story: Story) -> None:
        wanted = HistoryFilter(since=story.before_review, until=story.after_review)
        assert [e.type for e in app.history_page(story.plan_id, wanted).entries] == ["ReviewHeld"]
        later = app.history_page(story.plan_id, HistoryFilter(since=story.after_review)).entries
        assert len(later) == 7 and all(e.at > story.after_review for e in later)

    def test_filters_combine(self, app: Leanplan, story: Story) -> None:
        wanted = HistoryFilter(
            actor="bob", types=frozenset({"MilestoneRescheduled"}), since=story.after_review
        )
        assert [e.reason for e in app.history_page(story.plan_id, wanted).entries] == [
            "supplier late",
            "tests failing",
        ]

    def test_pages_follow_the_cursor_to_the_end_without_gaps_or_repeats(
        self, app: Leanplan, story: Story
    ) -> None:
        everything = [e.position for e in app.history(story.plan_id)]
        seen: list[int] = []
        cursor: int | None = 0
        pages = 0
        while cursor is not None:
            page = app.history_page(story.plan_id, limit=4, after=cursor)
            assert len(page.entries) <= 4
            seen += [e.position for e in page.entries]
            cursor = page.next_cursor
            pages += 1
        assert seen == everything
        assert pages == 4  # 13 entries: 4 + 4 + 4 + 1

    def test_paging_a_filtered_history(self, app: Leanplan, story: Story) -> None:
        wanted = HistoryFilter(milestone_id=story.beta)
        first = app.history_page(story.plan_id, wanted, limit=3)
        assert first.next_cursor == first.entries[-1].position
        second = app.history_page(story.plan_id, wanted, limit=3, after=first.next_cursor)
        assert [e.type for e in second.entries] == ["MilestoneBudgetChanged"]
        assert second.next_cursor is None

    def test_a_full_last_page_has_no_cursor(self, app: Leanplan, story: Story) -> None:
        page = app.history_page(story.plan_id, HistoryFilter(milestone_id=story.beta), limit=4)
        assert (len(page.entries), page.next_cursor) == (4, None)

    @pytest.mark.parametrize("limit", [0, -1])
    def test_a_page_size_below_one_is_refused(self, app: Leanplan, story: Story, limit: int) -> None:
        with pytest.raises(InvalidInput) as caught:
            app.history_page(story.plan_id, limit=limit)
        assert caught.value.field == "limit"


class TestChangesReport:
    def test_by_default_it_covers_everything_since_the_last_review_held(
        self, app: Leanplan, story: Story
    ) -> None:
        report = app.changes(story.plan_id)
        assert story.before_review <= report.since <= story.after_review
        assert report.until >= story.end
        assert [m.id for m in report.added] == [story.interviews]
        assert [m.id for m in report.completed] == [story.docs]
        assert [m.id for m in report.cancelled] == [story.ads]
        assert report.rescheduled == [
            Slip(
                story.beta,
                "Beta",
                date(2030, 3, 1),
                date(2030, 3, 16),
                15,
                ("supplier late", "tests failing"),
            )
        ]
        assert report.assumptions_resolved == [
            (story.assumption_id, "Teams pay monthly", AssumptionStatus.VALIDATED, "7 of 10 would pay")
        ]

    def test_budget_deltas_leave_out_cancelled_milestones(self, app: Leanplan, story: Story) -> None:
        report = app.changes(story.plan_id)
        assert (report.planned_budget_before, report.planned_budget_after) == (Decimal("350"), Decimal("390"))
        assert report.planned_budget_delta == Decimal("40.00")  # +40 interviews +50 beta -50 ads
        assert (report.actual_cost_before, report.actual_cost_after) == (Decimal("0"), Decimal("180"))
        assert report.actual_cost_delta == Decimal("180.00")

    def test_an_explicit_window_reports_only_its_changes(self, app: Leanplan, story: Story) -> None:
        a_day_before_the_plan = story.before_review - timedelta(days=1)
        report = app.changes(story.plan_id, since=a_day_before_the_plan, until=story.before_review)
        assert {m.title for m in report.added} == {"Beta", "Docs", "Ads"}
        assert (report.completed, report.cancelled, report.rescheduled) == ([], [], [])
        assert (report.planned_budget_before, report.planned_budget_after) == (Decimal("0"), Decimal("350"))

    def test_a_milestone_completed_then_reopened_in_the_window_is_not_reported_done(
        self, app: Leanplan, story: Story
    ) -> None:
        app.reopen(story.docs, reason="docs wrong", actor="bob")
        assert app.changes(story.plan_id).completed == []

    def test_the_last_review_resets_the_default_window(self, app: Leanplan, story: Story) -> None:
        app.hold_review(story.plan_id, held_on=date(2030, 3, 14), notes="second", actor="alice")
        app.retitle(story.beta, "Beta 2", actor="alice")
        report = app.changes(story.plan_id)
        assert (report.added, report.completed, report.cancelled, report.rescheduled) == ([], [], [], [])
        assert report.planned_budget_delta == 0


class TestPerMilestoneAndBudget:
    def test_each_milestone_knows_its_original_date_reschedules_and_slip(
        self, app: Leanplan, story: Story
    ) -> None:
        view = app.plan(story.plan_id)
        beta = view.milestone(story.beta)
        assert (beta.original_due, beta.due, beta.reschedule_count, beta.slip_days) == (
            date(2030, 3, 1),
            date(2030, 3, 16),
            2,
            15,
        )
        docs = view.milestone(story.docs)
        assert (docs.reschedule_count, docs.slip_days) == (0, 0)

    def test_budget_is_planned_vs_actual_per_milestone_and_per_kind(
        self, app: Leanplan, story: Story
    ) -> None:
        report = app.budget(story.plan_id)
        assert report.currency == "EUR"
        assert {m: (line.planned, line.actual) for m, line in report.per_milestone.items()} == {
            story.beta: (Decimal("150"), Decimal("0")),
            story.docs: (Decimal("200"), Decimal("180")),
            story.interviews: (Decimal("40"), Decimal("0")),
        }
        assert {k: (line.planned, line.actual) for k, line in report.per_kind.items()} == {
            Kind.IMPLEMENTATION: (Decimal("350"), Decimal("180")),
            Kind.ASSUMPTION: (Decimal("40"), Decimal("0")),
            Kind.PLAN_REVIEW: (Decimal("0"), Decimal("0")),
        }
        assert (report.total.planned, report.total.actual) == (Decimal("390"), Decimal("180"))
