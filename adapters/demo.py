"""A realistic demo plan, so a first run shows leanplan doing its job rather than an empty screen.

The story: Brewline, a Berlin start-up selling coffee subscriptions, tests its pricing and supply
assumptions, holds its monthly review and acts on what it decided. Everything is recorded through
the application's own commands, so the demo's history is exactly what real use would produce, and
due dates are relative to today so the plan always looks current.
"""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

from adapters.progress import Progress, ProgressFactory
from domain.application import Leanplan
from domain.values import Kind, Person

PLAN_NAME = "Brewline — smart coffee subscriptions"
TIMEZONE = "Europe/Berlin"
CURRENCY = "EUR"

LENA = Person("Lena Vogel", "lena@brewline.example")
JONAS = Person("Jonas Richter", "jonas@brewline.example")
MIRA = Person("Mira Okafor", "mira@brewline.example")
TOMAS = Person("Tomás Reyes", "tomas@brewline.example")
TEAM = (LENA, JONAS, MIRA, TOMAS)


def load_demo(
    app: Leanplan,
    *,
    actor: str = "demo",
    size: int = 0,
    progress: ProgressFactory = Progress,
) -> UUID:
    """Records the Brewline plan and its history; `size` adds that many generated milestones.

    "Today" is the application's (its clock, in Berlin), so tests can set it on the application.
    """
    story = _Story(app, actor)
    story.before_the_review()
    story.review()
    story.after_the_review()
    story.generated(size, progress)
    return story.plan_id


class _Story:
    """The demo's commands in the order they happened; one method per chapter."""

    pricing: UUID
    roasteries: UUID
    pricing_test: UUID
    roastery_test: UUID
    checkout: UUID
    fulfilment: UUID
    native_app: UUID

    def __init__(self, app: Leanplan, actor: str) -> None:
        self.app = app
        self.actor = actor
        self.plan_id = app.start_plan(PLAN_NAME, actor=actor, timezone=TIMEZONE, currency=CURRENCY)
        self.today = app.plan(self.plan_id).plan.cadence.starts_on  # the plan starts today

    def before_the_review(self) -> None:
        """Assumptions stated, milestones planned, the pricing test done and the first slip."""
        app, plan_id, actor = self.app, self.plan_id, self.actor
        self.pricing = app.add_assumption(
            plan_id,
            "Home-office workers will pay €19 a month for freshly roasted beans delivered",
            test="Landing page with a pre-order button, €2,000 of ads in Berlin and Munich",
            success_criterion="At least 4% of visitors pre-order within three weeks",
            actor=actor,
        )
        self.roasteries = app.add_assumption(
            plan_id,
            "Local roasteries will sell to us 35% below retail for a guaranteed monthly volume",
            test="Interview twelve Berlin roasteries and ask for letters of intent",
            success_criterion="Three signed letters of intent",
            actor=actor,
        )
        self.pricing_test = self.add(
            "Pre-order landing page test",
            Kind.ASSUMPTION,
            due_in_days=-30,
            budget="2500.00",
            owner=MIRA,
            assumption_id=self.pricing,
            description="Two landing page variants at €17 and €19; ads stop after three weeks.",
        )
        self.roastery_test = self.add(
            "Letters of intent from three roasteries",
            Kind.ASSUMPTION,
            due_in_days=-5,
            budget="800.00",
            owner=TOMAS,
            assumption_id=self.roasteries,
        )
        self.checkout = self.add(
            "Subscription checkout with Stripe",
            Kind.IMPLEMENTATION,
            due_in_days=7,
            budget="12000.00",
            owner=JONAS,
            description="Monthly and quarterly plans, pause or skip a delivery, invoices with VAT.",
        )
        self.fulfilment = self.add(
            "Packaging and fulfilment with a Berlin 3PL",
            Kind.IMPLEMENTATION,
            due_in_days=28,
            budget="6000.00",
            owner=TOMAS,
            description="Compostable bags, next-day dispatch, returns handled by the 3PL.",
        )
        self.native_app = self.add(
            "Native mobile app MVP",
            Kind.IMPLEMENTATION,
            due_in_days=120,
            budget="35000.00",
            owner=JONAS,
        )
        self.add(
            "Launch to the first 100 subscribers",
            Kind.IMPLEMENTATION,
            due_in_days=75,
            budget="9000.00",
            owner=MIRA,
        )
        self.add(
            "Investor update and plan review",
            Kind.PLAN_REVIEW,
            due_in_days=40,
            budget="0.00",
            owner=LENA,
        )
        self.add(
            "Go / no-go for the seed round",
            Kind.PLAN_REVIEW,
            due_in_days=90,
            budget="0.00",
            owner=LENA,
        )
        app.complete(
            self.pricing_test,
            completed_on=self.today - timedelta(days=26),
            actual_cost="2180.40",
            note="Ads stopped early: the target was reached after 17 days.",
            actor=actor,
        )
        app.validate_assumption(
            plan_id,
            self.pricing,
            evidence="5.2% of 3,870 visitors pre-ordered (201 orders); €19 sold as well as €17",
            actor=actor,
        )
        app.reschedule(
            self.checkout,
            self.today + timedelta(days=21),
            reason="The payment provider's compliance review takes two weeks longer than promised",
            actor=actor,
        )

    def review(self) -> None:
        """The last monthly review (second Friday) and what it decided."""
        self.app.hold_review(
            self.plan_id,
            held_on=last_second_friday(self.today),
            notes="Pricing is validated at €19. Roastery talks are slower than hoped; "
            "two roasteries want to wait for their new harvest prices.",
            decisions=(
                "Mobile web first; no native app before 500 subscribers",
                "Give the roastery letters of intent two more weeks",
                "Add SEPA direct debit to checkout, German customers expect it",
            ),
            actor=self.actor,
        )

    def after_the_review(self) -> None:
        """The decisions carried out: what `leanplan changes` reports at the next review."""
        app, actor = self.app, self.actor
        app.cancel(
            self.native_app,
            reason="Review decision: mobile web first; revisit after 500 subscribers",
            actor=actor,
        )
        self.add(
            "Mobile web ordering (PWA)",
            Kind.IMPLEMENTATION,
            due_in_days=50,
            budget="8000.00",
            owner=JONAS,
            description="Reorder in two taps from the home screen; stands in for the native app.",
        )
        app.reschedule(
            self.roastery_test,
            self.today + timedelta(days=10),
            reason="Two roasteries wait for their new harvest prices before signing",
            actor=actor,
        )
        app.change_budget(
            self.checkout, "14500.00", reason="SEPA direct debit, per the review", actor=actor
        )
        app.reschedule(
            self.fulfilment,
            self.today + timedelta(days=35),
            reason="The 3PL's next onboarding slot is a week later",
            actor=actor,
        )
        app.reassign(self.fulfilment, MIRA, reason="Tomás focuses on the roasteries", actor=actor)

    def generated(self, size: int, progress: ProgressFactory) -> None:
        """`size` more workstreams, each with a few changes, for trying leanplan on a big plan."""
        with progress("demo", size) as bar:
            for number in range(1, size + 1):
                self.generated_milestone(number)
                bar.advance()

    def generated_milestone(self, number: int) -> None:
        """A generated workstream: added, slipped a week, re-budgeted; every third one done."""
        due_in = 14 + number % 180
        budget = 500 + number % 40 * 250
        milestone_id = self.add(
            f"Workstream {number:05d}",
            Kind.IMPLEMENTATION,
            due_in_days=due_in,
            budget=f"{budget}.00",
            owner=TEAM[number % len(TEAM)],
        )
        self.app.reschedule(
            milestone_id,
            self.today + timedelta(days=due_in + 7),
            reason="Waiting on a supplier",
            actor=self.actor,
        )
        self.app.change_budget(
            milestone_id, f"{budget + 250}.00", reason="The quote came in higher", actor=self.actor
        )
        if number % 3 == 0:
            self.app.complete(milestone_id, actual_cost=f"{budget + 180}.00", actor=self.actor)

    def add(
        self,
        title: str,
        kind: Kind,
        *,
        due_in_days: int,
        budget: str,
        owner: Person,
        description: str = "",
        assumption_id: UUID | None = None,
    ) -> UUID:
        return self.app.add_milestone(
            self.plan_id,
            title=title,
            kind=kind.value,
            due=self.today + timedelta(days=due_in_days),
            budget=budget,
            owner=owner,
            description=description,
            assumption_id=assumption_id,
            actor=self.actor,
        )


def last_second_friday(today: date) -> date:
    """The most recent second Friday of a month, on or before `today`: when the review met."""
    month_start = today.replace(day=1)
    held = _second_friday(month_start)
    if held > today:
        held = _second_friday((month_start - timedelta(days=1)).replace(day=1))
    return held


def _second_friday(month_start: date) -> date:
    first_friday = month_start + timedelta(days=(4 - month_start.weekday()) % 7)
    return first_friday + timedelta(days=7)
