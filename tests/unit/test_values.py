"""Value objects refuse bad data with a specific domain error, so aggregates never hold it."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from domain import values
from domain.errors import (
    DomainError,
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
from domain.values import Kind, Person, ReviewCadence


class TestMoney:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (0, "0.00"),
            (5, "5.00"),
            ("12.5", "12.50"),
            ("  7.25 ", "7.25"),
            (Decimal("99.99"), "99.99"),
            ("1e3", "1000.00"),
            ("1000000000000", "1000000000000.00"),
        ],
    )
    def test_valid_amounts_are_kept_exact_to_the_cent(
        self, given: Decimal | str | int, expected: str
    ) -> None:
        amount = values.money(given)
        assert amount == Decimal(expected)
        assert str(amount) == expected

    @pytest.mark.parametrize("given", ["-0", "-0.00", Decimal("-0")])
    def test_negative_zero_becomes_plain_zero(self, given: Decimal | str) -> None:
        amount = values.money(given)
        assert str(amount) == "0.00"
        assert not amount.is_signed()

    @pytest.mark.parametrize("given", [-1, "-0.01", Decimal("-100")])
    def test_negative_amounts_are_refused(self, given: Decimal | str | int) -> None:
        with pytest.raises(InvalidBudget, match="negative"):
            values.money(given)

    @pytest.mark.parametrize("given", ["0.001", "12.345", Decimal("1.005")])
    def test_more_than_two_decimal_places_are_refused(self, given: Decimal | str) -> None:
        with pytest.raises(InvalidBudget, match="two decimal places"):
            values.money(given)

    @pytest.mark.parametrize("given", ["NaN", "sNaN", "Infinity", "-Infinity", Decimal("NaN")])
    def test_non_finite_amounts_are_refused(self, given: Decimal | str) -> None:
        with pytest.raises(InvalidBudget, match="finite"):
            values.money(given)

    @pytest.mark.parametrize("given", ["1000000000000.01", "1e13", "1e1000000000", 10**30])
    def test_implausibly_huge_amounts_are_refused(self, given: str | int) -> None:
        with pytest.raises(InvalidBudget, match="not plausible"):
            values.money(given)

    @pytest.mark.parametrize("given", ["", "   ", "abc", "12,50", "$12", "1.2.3"])
    def test_strings_that_are_not_numbers_are_refused(self, given: str) -> None:
        with pytest.raises(InvalidBudget, match="not an amount"):
            values.money(given)

    def test_the_error_names_the_field_it_was_given(self) -> None:
        with pytest.raises(InvalidBudget) as caught:
            values.money("-1", field="actual_cost")
        assert caught.value.field == "actual_cost"


class TestCurrency:
    @pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "CHF", "GBP"])
    def test_iso_4217_codes_are_accepted(self, code: str) -> None:
        assert values.currency(code) == code

    @pytest.mark.parametrize("code", ["", "usd", "US", "DOLLAR", "ABC", "BTC", " EUR"])
    def test_anything_else_is_an_unknown_currency(self, code: str) -> None:
        with pytest.raises(UnknownCurrency):
            values.currency(code)


class TestTimeZone:
    @pytest.mark.parametrize(
        "key", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Pacific/Auckland"]
    )
    def test_iana_zones_are_accepted(self, key: str) -> None:
        assert values.timezone(key) == key

    @pytest.mark.parametrize(
        "key",
        [
            "",
            "Mars/Olympus_Mons",
            "Europe/Berlin/",
            "../zoneinfo/UTC",
            "/etc/localtime",
            "Europe",  # a directory of the zone database, not a zone
            "America",
            "posix/Europe/Paris",  # a copy of the database, not an IANA name
            "right/UTC",
            "zone.tab",
        ],
    )
    def test_anything_else_is_an_unknown_time_zone(self, key: str) -> None:
        with pytest.raises(UnknownTimeZone):
            values.timezone(key)


class TestEmail:
    @pytest.mark.parametrize("email", ["ada@example.com", "a.b+tag@sub.example.co.uk", "X@Y.ORG"])
    def test_ordinary_addresses_are_accepted(self, email: str) -> None:
        assert Person("Ada", email).email == email

    @pytest.mark.parametrize(
        "email",
        [
            "",
            "ada",
            "ada@example",
            "@example.com",
            "ada@.com",
            "ada@example.com.",
            "ada lovelace@example.com",
            "ada@exa mple.com",
            "Ada <ada@example.com>",
            "a@b@example.com",
            "ada@example.com\n",  # a trailing newline would break every calendar line it is put in
            "ada@example.com\r\nX-INJECTED:1",
            "a" * 250 + "@example.com",
        ],
    )
    def test_malformed_addresses_are_refused(self, email: str) -> None:
        with pytest.raises(InvalidEmail):
            Person("Ada", email)

    @pytest.mark.parametrize("name", ["", "   ", "n" * 201])
    def test_a_person_needs_a_name_of_1_to_200_characters(self, name: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            Person(name, "ada@example.com")
        assert caught.value.field == "owner"


class TestTextLimits:
    def test_a_title_of_200_characters_is_accepted_and_stripped(self) -> None:
        assert values.title("  " + "t" * 200 + "  ") == "t" * 200

    @pytest.mark.parametrize("text", ["", "   ", "t" * 201])
    def test_a_title_outside_1_to_200_characters_is_refused(self, text: str) -> None:
        with pytest.raises(InvalidTitle):
            values.title(text)

    def test_a_description_of_10000_characters_is_accepted(self) -> None:
        assert values.description("d" * 10_000) == "d" * 10_000

    def test_an_empty_description_is_accepted(self) -> None:
        assert values.description("") == ""

    def test_a_description_over_10000_characters_is_refused(self) -> None:
        with pytest.raises(InvalidDescription):
            values.description("d" * 10_001)

    @pytest.mark.parametrize("text", ["", "  ", "n" * 201])
    def test_a_plan_name_outside_1_to_200_characters_is_refused(self, text: str) -> None:
        with pytest.raises(InvalidName):
            values.plan_name(text)


class TestReasonAndActor:
    @pytest.mark.parametrize("given", [None, "", "   ", "\n\t"])
    def test_a_missing_or_blank_reason_is_refused(self, given: str | None) -> None:
        with pytest.raises(ReasonRequired):
            values.reason(given)

    def test_a_reason_is_stripped(self) -> None:
        assert values.reason("  supplier late \n") == "supplier late"

    @pytest.mark.parametrize("given", ["", "  "])
    def test_every_change_needs_an_actor(self, given: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            values.actor(given)
        assert caught.value.field == "actor"


class TestKind:
    @pytest.mark.parametrize("given", ["plan_review", "assumption", "implementation"])
    def test_the_three_kinds_are_accepted(self, given: str) -> None:
        assert values.kind(given) is Kind(given)

    @pytest.mark.parametrize("given", ["", "Implementation", "task"])
    def test_any_other_kind_is_refused(self, given: str) -> None:
        with pytest.raises(InvalidKind):
            values.kind(given)


class TestReviewCadence:
    def test_the_default_is_the_second_friday_of_every_month_at_ten_for_an_hour(self) -> None:
        cadence = ReviewCadence()
        occurrences = cadence.dates_between(date(2025, 1, 1), date(2025, 12, 31))
        assert len(occurrences) == 12
        assert [d.month for d in occurrences] == list(range(1, 13))
        assert all(d.weekday() == 4 and 8 <= d.day <= 14 for d in occurrences)
        assert occurrences[:3] == [date(2025, 1, 10), date(2025, 2, 14), date(2025, 3, 14)]
        assert (cadence.start_time, cadence.duration) == (time(10, 0), timedelta(minutes=60))

    def test_occurrences_before_the_start_date_do_not_exist(self) -> None:
        cadence = ReviewCadence(starts_on=date(2025, 6, 1))
        assert cadence.dates_between(date(2025, 1, 1), date(2025, 6, 30)) == [date(2025, 6, 13)]
        assert cadence.first_date() == date(2025, 6, 13)

    def test_a_weekly_rule_gives_one_date_a_week(self) -> None:
        cadence = ReviewCadence(rrule="FREQ=WEEKLY;BYDAY=MO", starts_on=date(2025, 1, 1))
        assert len(cadence.dates_between(date(2025, 1, 1), date(2025, 12, 31))) == 52

    @pytest.mark.parametrize(
        "rule",
        [
            "not a rule",
            "FREQ=MONTHLY;BYDAY=XX",
            "FREQ=MONTHLY;BYMONTHDAY=abc",
            "FREQ=MONTHLY;FOO",
            "FREQ=MONTHLY;BYDAY=2FR;BYSETPOS=400",
            "FREQ=MONTHLY;BYDAY=2FR\nRRULE:FREQ=DAILY",
        ],
    )
    def test_invalid_rule_text_is_refused(self, rule: str) -> None:
        with pytest.raises(InvalidRecurrenceRule):
            ReviewCadence(rrule=rule)

    @pytest.mark.parametrize("rule", ["", "BYDAY=2FR", "INTERVAL=2;BYDAY=MO"])
    def test_a_rule_without_freq_is_refused(self, rule: str) -> None:
        with pytest.raises(InvalidRecurrenceRule, match="FREQ"):
            ReviewCadence(rrule=rule)

    @pytest.mark.parametrize("freq", ["SECONDLY", "MINUTELY", "HOURLY"])
    def test_sub_daily_frequencies_are_refused(self, freq: str) -> None:
        with pytest.raises(InvalidRecurrenceRule, match="FREQ"):
            ReviewCadence(rrule=f"FREQ={freq}")

    @pytest.mark.parametrize("part", ["BYHOUR=9", "BYMINUTE=30", "BYSECOND=0", "DTSTART=20250101"])
    def test_the_time_of_day_cannot_be_set_inside_the_rule(self, part: str) -> None:
        with pytest.raises(InvalidRecurrenceRule, match="start_time"):
            ReviewCadence(rrule=f"FREQ=MONTHLY;BYDAY=2FR;{part}")

    @pytest.mark.parametrize("rule", ["RRULE:FREQ=MONTHLY;BYDAY=2FR", "rrule:FREQ=WEEKLY"])
    def test_the_rrule_prefix_is_refused(self, rule: str) -> None:
        with pytest.raises(InvalidRecurrenceRule, match="prefix"):
            ReviewCadence(rrule=rule)

    @pytest.mark.parametrize("interval", ["0", "-1"])
    def test_an_interval_below_one_is_refused_when_the_rule_is_given(self, interval: str) -> None:
        # INTERVAL=0 made every later date query loop forever; INTERVAL=-1 failed with ValueError.
        with pytest.raises(InvalidRecurrenceRule):
            ReviewCadence(rrule=f"FREQ=MONTHLY;BYDAY=2FR;INTERVAL={interval}")

    def test_an_out_of_range_weekday_ordinal_is_refused_when_the_rule_is_given(self) -> None:
        # Accepted before, then every date query failed with a bare IndexError.
        with pytest.raises(InvalidRecurrenceRule):
            ReviewCadence(rrule="FREQ=MONTHLY;BYDAY=9FR")

    @pytest.mark.parametrize(
        "rule",
        ["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MONTHLY;COUNT=0", "FREQ=MONTHLY;BYDAY=FR;BYSETPOS=6"],
    )
    def test_a_rule_that_never_occurs_is_refused(self, rule: str) -> None:
        with pytest.raises(InvalidRecurrenceRule, match="never"):
            ReviewCadence(rrule=rule)

    @pytest.mark.parametrize("minutes", [0, -5, 24 * 60 + 1])
    def test_a_duration_outside_one_minute_to_a_day_is_refused(self, minutes: int) -> None:
        with pytest.raises(InvalidDuration):
            ReviewCadence(duration_minutes=minutes)


@pytest.mark.parametrize(
    "error",
    [InvalidBudget, UnknownCurrency, UnknownTimeZone, InvalidEmail, InvalidRecurrenceRule, ReasonRequired],
)
def test_value_errors_are_domain_errors_not_builtin_ones(error: type[Exception]) -> None:
    assert issubclass(error, DomainError)
    assert not issubclass(error, ValueError | KeyError)
