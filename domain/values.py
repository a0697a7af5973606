"""Value objects of a Lean Plan; each constructor checks its own rules so aggregates never hold bad data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from zoneinfo import available_timezones

from dateutil.rrule import rrule, rrulestr

from domain.currencies import ISO_4217
from domain.errors import (
    InvalidBudget,
    InvalidDescription,
    InvalidDuration,
    InvalidEmail,
    InvalidInput,
    InvalidKind,
    InvalidName,
    InvalidRecurrenceRule,
    InvalidTitle,
    ReasonRequired,
    UnknownCurrency,
    UnknownTimeZone,
)

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_BUDGET = Decimal("1000000000000")
CENT = Decimal("0.01")
DEFAULT_RRULE = "FREQ=MONTHLY;BYDAY=2FR"
DEFAULT_REVIEW_START = time(10, 0)
DEFAULT_REVIEW_MINUTES = 60
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$")
_ALLOWED_FREQUENCIES = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}


class Kind(StrEnum):
    PLAN_REVIEW = "plan_review"
    ASSUMPTION = "assumption"
    IMPLEMENTATION = "implementation"


class MilestoneStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class AssumptionStatus(StrEnum):
    UNTESTED = "untested"
    VALIDATED = "validated"
    INVALIDATED = "invalidated"


@dataclass(frozen=True)
class Person:
    """Who answers for a milestone; the email is how calendars and filters find them."""

    name: str
    email: str

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > MAX_TITLE:
            raise InvalidInput("a person needs a name of 1 to 200 characters", field="owner")
        if len(self.email) > 254 or not _EMAIL.fullmatch(self.email):
            raise InvalidEmail(f"not an email address: {self.email!r}")


def kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        choices = ", ".join(k.value for k in Kind)
        raise InvalidKind(f"unknown kind {value!r}; choose one of {choices}") from None


def email(value: str, field: str = "email") -> str:
    """An address checked as `Person` checks its own; `field` names the input it came from."""
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidEmail(f"not an email address: {value!r}", field=field)
    return value


def title(value: str) -> str:
    stripped = value.strip()
    if not stripped or len(stripped) > MAX_TITLE:
        raise InvalidTitle(f"a title has 1 to {MAX_TITLE} characters")
    return stripped


def plan_name(value: str) -> str:
    stripped = value.strip()
    if not stripped or len(stripped) > MAX_TITLE:
        raise InvalidName(f"a plan name has 1 to {MAX_TITLE} characters")
    return stripped


def description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise InvalidDescription(f"a description has at most {MAX_DESCRIPTION} characters")
    return value


def money(value: Decimal | str | int, field: str = "budget") -> Decimal:
    """Money is kept exact to the cent; more precision would be silently lost, so it is refused."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidBudget(f"not an amount of money: {value!r}", field=field) from None
    if not amount.is_finite():
        raise InvalidBudget("an amount must be a finite number", field=field)
    if amount < 0:
        raise InvalidBudget("an amount cannot be negative", field=field)
    if amount > MAX_BUDGET:
        raise InvalidBudget(f"an amount above {MAX_BUDGET} is not plausible", field=field)
    if amount != amount.quantize(CENT):
        raise InvalidBudget("an amount has at most two decimal places", field=field)
    return amount.quantize(CENT).copy_abs()  # "-0" passes the sign check but must not show as -0.00


def currency(code: str) -> str:
    if code not in ISO_4217:
        raise UnknownCurrency(f"not an ISO 4217 currency code: {code!r}")
    return code


@cache
def _zone_keys() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone(key: str) -> str:
    # Only the zone names themselves: ZoneInfo() also opens directories ("Europe") and the
    # posix/ and right/ copies of the database, none of which a calendar client knows.
    if key not in _zone_keys():
        raise UnknownTimeZone(f"not an IANA time zone: {key!r}")
    return key


def reason(value: str | None) -> str:
    """Changes that move or drop commitments must say why, or the review cannot learn from them."""
    if value is None or not value.strip():
        raise ReasonRequired("a reason is required for this change")
    return value.strip()


def actor(value: str) -> str:
    if not value or not value.strip():
        raise InvalidInput("every change needs an actor", field="actor")
    return value.strip()


@dataclass(frozen=True)
class ReviewCadence:
    """When the plan is reviewed: an RFC 5545 RRULE anchored at `starts_on`, at a local time."""

    rrule: str = DEFAULT_RRULE
    start_time: time = DEFAULT_REVIEW_START
    duration_minutes: int = DEFAULT_REVIEW_MINUTES
    starts_on: date = date(2000, 1, 1)

    def __post_init__(self) -> None:
        if not 1 <= self.duration_minutes <= 24 * 60:
            raise InvalidDuration("a review lasts from 1 minute to 24 hours")
        # dateutil checks little when parsing: some rules fail, or never end, only when iterated.
        try:
            first = self._rule().after(datetime.combine(self.starts_on, time.min), inc=True)
        except (ValueError, IndexError, OverflowError) as error:
            raise InvalidRecurrenceRule(f"not a valid RRULE: {error}") from None
        if first is None:
            raise InvalidRecurrenceRule("the rule never gives a date")

    def _rule(self) -> rrule:
        text = self.rrule.strip()
        if text.upper().startswith("RRULE:"):
            raise InvalidRecurrenceRule("give the rule without the 'RRULE:' prefix")
        parts = dict(p.split("=", 1) for p in text.upper().split(";") if "=" in p)
        if parts.get("FREQ") not in _ALLOWED_FREQUENCIES:
            raise InvalidRecurrenceRule("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
        if any(key in parts for key in ("DTSTART", "BYHOUR", "BYMINUTE", "BYSECOND")):
            raise InvalidRecurrenceRule("the time of day is set by start_time, not in the rule")
        interval = parts.get("INTERVAL", "1")
        if not interval.isdigit() or int(interval) < 1:
            raise InvalidRecurrenceRule("INTERVAL must be a whole number of at least 1")
        try:
            rule = rrulestr(text, dtstart=datetime.combine(self.starts_on, self.start_time))
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise InvalidRecurrenceRule(f"not a valid RRULE: {error}") from None
        if not isinstance(rule, rrule):
            raise InvalidRecurrenceRule("give a single RRULE")
        return rule

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def dates_between(self, start: date, end: date) -> list[date]:
        """Occurrence dates in [start, end]; bounded by the span, so a rule cannot run away."""
        rule = self._rule()
        first = datetime.combine(max(start, self.starts_on), time.min)
        last = datetime.combine(end, time.max)
        return [moment.date() for moment in rule.between(first, last, inc=True)]

    def first_date(self) -> date | None:
        found = self.dates_between(self.starts_on, self.starts_on + timedelta(days=3660))
        return found[0] if found else None
