"""Exchange rates, currency conversion and the report figures, without I/O."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, Violations
from crm_sales.domain.exchange_rates import (
    ExchangeRate,
    currency_from_name,
    parse_exchange_rate,
    rate_text,
)
from crm_sales.domain.forecast import Bucket, LineKey
from crm_sales.domain.money import NANOS_PER_UNIT, ExchangeRates
from crm_sales.domain.opportunities import State
from crm_sales.domain.pipelines import Pipeline, Stage
from crm_sales.domain.reports import (
    MAX_LINES,
    ClosedBucket,
    Conversion,
    CurrentStage,
    FurthestStage,
    ReasonBucket,
    check_line_count,
    day_range,
    funnel,
    reason_tallies,
    summarise,
    win_rates,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RATES = ExchangeRates("EUR", {"USD": Decimal("0.9"), "GBP": Decimal("1.2")})


# Exchange rates


@pytest.mark.parametrize(
    ("text", "rate"),
    [("0.9200", "0.92"), (" 1 ", "1"), ("1E+2", "100"), ("0.000000001", "0.000000001")],
)
def test_rates_are_normalised_exact_decimals(text: str, rate: str) -> None:
    violations = Violations()
    parsed = parse_exchange_rate(violations, "rate", text)
    assert not violations
    assert parsed is not None and rate_text(parsed) == rate


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is required"),
        ("abc", "not a positive decimal"),
        ("-1", "not a positive decimal"),
        ("0", "not a positive decimal"),
        ("NaN", "not a positive decimal"),
        ("Infinity", "not a positive decimal"),
        ("1000000000", "below"),
        ("0.0000000001", "9 digits"),
    ],
)
def test_bad_rates_are_refused(text: str, problem: str) -> None:
    violations = Violations()
    assert parse_exchange_rate(violations, "exchange_rate.rate", text) is None
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    (violation,) = raised.value.violations
    assert violation.field == "exchange_rate.rate" and problem in violation.description


@pytest.mark.parametrize(
    "name", ["exchangeRates/usd", "exchangeRates/", "rates/USD", "exchangeRates/USDX"]
)
def test_rate_names_carry_an_iso_code(name: str) -> None:
    with pytest.raises(InvalidArgument):
        currency_from_name(name, "name")
    assert currency_from_name("exchangeRates/USD", "name") == "USD"


def test_setting_the_same_rate_changes_nothing() -> None:
    rate = ExchangeRate("USD", Decimal("0.9"), NOW)
    assert not rate.set(Decimal("0.90"), NOW)
    assert rate.set(Decimal("0.91"), NOW + timedelta(seconds=1))
    assert rate.version == 2


# Day ranges


def test_day_ranges_report_every_problem() -> None:
    violations = Violations()
    assert day_range(violations, (0, 0, 0), (2026, 2, 30), required=True) is None
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    fields = {v.field: v.description for v in raised.value.violations}
    assert fields["start_date"] == "is required"
    assert "not a calendar date" in fields["end_date"]


def test_day_ranges_are_ordered_bounded_and_optional_when_allowed() -> None:
    violations = Violations()
    assert day_range(violations, (2026, 2, 1), (2026, 1, 1), required=True) is None
    assert day_range(violations, (2020, 1, 1), (2026, 1, 1), required=True) is None
    assert [v.field for v in _violations(violations)] == ["end_date", "end_date"]
    assert day_range(Violations(), (0, 0, 0), (0, 0, 0), required=False) is None
    days = day_range(Violations(), (2026, 1, 1), (2026, 3, 31), required=False)
    assert days is not None
    assert days.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert days.end == datetime(2026, 4, 1, tzinfo=UTC)


def _violations(violations: Violations) -> tuple[FieldViolation, ...]:
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    return raised.value.violations


# Conversion


def test_conversion_sums_in_the_base_and_divides_once() -> None:
    conversion = Conversion(RATES, "USD")
    total = conversion.total({"EUR": Decimal("90"), "USD": Decimal("100"), "GBP": Decimal("1")})
    # 90 + 90 + 1.2 EUR = 181.2 EUR = 201.333333333... USD, rounded to the nano.
    assert total == {"USD": Decimal("201.333333333")}
    assert Conversion(RATES, "EUR").total({"GBP": Decimal("10")}) == {"EUR": Decimal("12.0")}


def test_conversion_names_the_currency_without_a_rate() -> None:
    with pytest.raises(FailedPrecondition, match="JPY"):
        Conversion(RATES, "EUR").total({"JPY": Decimal(1)})
    with pytest.raises(FailedPrecondition, match="CHF"):
        Conversion(RATES, "CHF").check()


def test_converted_forecast_keeps_counts_and_converts_every_figure() -> None:
    key = LineKey(date(2026, 1, 1), "", "p", "USD")
    buckets = [
        Bucket(key, won_count=0, won_nanos=0, open_count=1,
               open_weighted_percent_nanos=90 * NANOS_PER_UNIT * 100, open_pipeline_nanos=0,
               open_best_case_nanos=0, open_commit_nanos=100 * NANOS_PER_UNIT),
        Bucket(key._replace(currency="EUR"), won_count=1, won_nanos=45 * NANOS_PER_UNIT,
               open_count=0, open_weighted_percent_nanos=0, open_pipeline_nanos=0,
               open_best_case_nanos=0, open_commit_nanos=0),
    ]  # fmt: skip
    (line,) = Conversion(RATES, "USD").forecast(buckets)
    assert line.key.currency == "USD"
    assert line.pipeline == Decimal("100")
    assert line.commit == Decimal("150")  # 100 USD open + 45 EUR won = 50 USD
    assert line.closed == Decimal("50")
    assert line.weighted == Decimal("140")
    assert (line.open_count, line.won_count) == (1, 1)


def test_too_many_lines_fail_cleanly() -> None:
    check_line_count(MAX_LINES)
    with pytest.raises(FailedPrecondition, match="narrow"):
        check_line_count(MAX_LINES + 1)


# Funnel


def pipeline() -> Pipeline:
    stages = (Stage("lead", "Lead", 10), Stage("demo", "Demo", 40), Stage("deal", "Deal", 80))
    return Pipeline.create("p", "New business", stages, NOW)


def test_a_deal_reaches_every_stage_up_to_its_furthest() -> None:
    furthest = [
        FurthestStage(0, "EUR", 4, Decimal("400")),
        FurthestStage(1, "EUR", 3, Decimal("300")),
        FurthestStage(2, "USD", 1, Decimal("100")),
    ]
    current = [
        CurrentStage("lead", "EUR", 2, Decimal("200")),
        CurrentStage("gone", "EUR", 9, Decimal(9)),
    ]
    lead, demo, deal = funnel(pipeline(), furthest, current, None)
    assert (lead.reached_count, demo.reached_count, deal.reached_count) == (8, 4, 1)
    assert lead.reached_value == {"EUR": Decimal("700"), "USD": Decimal("100")}
    assert demo.reached_value == {"EUR": Decimal("300"), "USD": Decimal("100")}
    assert lead.next_stage_conversion_percent == 50.0
    assert demo.next_stage_conversion_percent == 25.0
    assert deal.next_stage_conversion_percent is None
    assert (lead.current_count, lead.current_value) == (2, {"EUR": Decimal("200")})
    assert demo.current_value == {}


def test_a_converted_funnel_has_one_currency() -> None:
    furthest = [
        FurthestStage(0, "EUR", 1, Decimal("10")),
        FurthestStage(0, "USD", 1, Decimal("10")),
    ]
    lead, demo, _ = funnel(pipeline(), furthest, [], Conversion(RATES, "EUR"))
    assert lead.reached_value == {"EUR": Decimal("19.0")}
    assert demo.reached_value == {"EUR": Decimal("0")}
    assert demo.next_stage_conversion_percent is None  # nobody reached it


# Time in stage


def test_durations_have_a_mean_and_a_median() -> None:
    hours = [timedelta(hours=h) for h in (1, 2, 10, 3)]
    summary = summarise(hours)
    assert summary.count == 4
    assert summary.mean == timedelta(hours=4)
    assert summary.median == timedelta(hours=2, minutes=30)
    assert summarise([]).mean is None


# Win rate and reasons


def test_win_rates_per_owner_with_average_deal_size_per_currency() -> None:
    jan = date(2026, 1, 1)
    buckets = [
        ClosedBucket(jan, "ada", State.WON, "EUR", 2, Decimal("300")),
        ClosedBucket(jan, "ada", State.WON, "USD", 1, Decimal("100")),
        ClosedBucket(jan, "ada", State.LOST, "EUR", 1, Decimal("999")),
        ClosedBucket(jan, "bob", State.LOST, "EUR", 2, Decimal("50")),
    ]
    ada, bob = win_rates(buckets, by_owner=True, conversion=None)
    assert (ada.owner, ada.won_count, ada.lost_count) == ("ada", 3, 1)
    assert ada.win_rate_percent == 75.0
    assert ada.won_value == {"EUR": Decimal("300"), "USD": Decimal("100")}
    assert ada.average_won_value == {"EUR": Decimal("150"), "USD": Decimal("100")}
    assert (bob.win_rate_percent, bob.won_value, bob.average_won_value) == (0.0, {}, {})
    (everyone,) = win_rates(buckets, by_owner=False, conversion=Conversion(RATES, "EUR"))
    assert everyone.won_value == {"EUR": Decimal("390.0")}
    assert everyone.average_won_value == {"EUR": Decimal("130")}
    assert everyone.win_rate_percent == 50.0


def test_reasons_list_wins_then_losses_by_count() -> None:
    buckets = [
        ReasonBucket("price", State.LOST, "EUR", 1, Decimal("10")),
        ReasonBucket("timing", State.LOST, "EUR", 3, Decimal("30")),
        ReasonBucket("fit", State.WON, "EUR", 1, Decimal("5")),
        ReasonBucket("timing", State.LOST, "USD", 1, Decimal("10")),
    ]
    tallies = reason_tallies(buckets, {"timing": "Bad timing"}, None)
    assert [(t.reason_id, t.outcome, t.count) for t in tallies] == [
        ("fit", State.WON, 1),
        ("timing", State.LOST, 4),
        ("price", State.LOST, 1),
    ]
    assert tallies[1].display_name == "Bad timing"
    assert tallies[1].value == {"EUR": Decimal("30"), "USD": Decimal("10")}
