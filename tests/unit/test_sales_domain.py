"""Money, pipelines, opportunities and forecasts: the sales rules without I/O."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument, Violations
from crm_sales.domain.forecast import Bucket, LineKey, Period, forecast, period_start
from crm_sales.domain.money import (
    NANOS_PER_UNIT,
    ExchangeRates,
    Money,
    check_money,
    from_units_nanos,
    to_units_nanos,
)
from crm_sales.domain.opportunities import (
    ForecastCategory,
    Opportunity,
    OpportunityDetails,
    State,
    default_category,
)
from crm_sales.domain.pipelines import Pipeline, Stage, require_open_stage
from crm_sales.domain.reports import Conversion

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
STAGES = (Stage("lead", "Lead", 10), Stage("proposal", "Proposal", 50), Stage("won", "Verbal", 90))


def pipeline() -> Pipeline:
    return Pipeline.create("new-business", "New business", STAGES, NOW)


def deal(amount: str = "1000.00", currency: str = "EUR", **changes: object) -> Opportunity:
    details = OpportunityDetails(display_name="Engine", value=Money(currency, Decimal(amount)))
    opportunity = Opportunity.create("d1", details, pipeline(), "lead", NOW)
    if changes:
        opportunity.update(dict(changes), NOW)
    return opportunity


# Money


@pytest.mark.parametrize(
    ("units", "nanos", "amount"),
    [(12, 340_000_000, "12.34"), (0, 1, "0.000000001"), (-3, -500_000_000, "-3.5")],
)
def test_money_round_trips_through_units_and_nanos(units: int, nanos: int, amount: str) -> None:
    violations = Violations()
    assert from_units_nanos(units, nanos, violations, "value") == Decimal(amount)
    assert to_units_nanos(Decimal(amount)) == (units, nanos)
    assert not violations


def test_money_sums_exactly_where_float_would_drift() -> None:
    total = Money.zero("EUR")
    for _ in range(10):
        total += Money("EUR", Decimal("0.10"))
    assert total.amount == Decimal("1.00")


def test_money_refuses_mixed_currencies_and_bad_codes() -> None:
    with pytest.raises(ValueError, match="USD"):
        Money("EUR", Decimal(1)) + Money("USD", Decimal(1))
    violations = Violations()
    check_money(violations, "value", Money("eur", Decimal(-1)), required=True)
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    fields = {v.field for v in raised.value.violations}
    assert fields == {"value.currency_code", "value"}


def test_nanos_must_share_the_sign_of_units() -> None:
    violations = Violations()
    from_units_nanos(1, -5, violations, "value")
    assert violations


def test_conversion_needs_a_rate() -> None:
    rates = ExchangeRates("EUR", {"USD": Decimal("0.92")})
    assert rates.convert(Money("USD", Decimal(100))) == Money("EUR", Decimal("92.00"))
    with pytest.raises(FailedPrecondition, match="GBP"):
        rates.convert(Money("GBP", Decimal(1)))


# Pipelines


def test_pipeline_needs_valid_unique_stages() -> None:
    with pytest.raises(InvalidArgument) as raised:
        Pipeline.create("p", "P", (Stage("a", "A", 10), Stage("a", "", 120)), NOW)
    fields = {v.field for v in raised.value.violations}
    assert fields == {
        "pipeline.stages[1].id",
        "pipeline.stages[1].display_name",
        "pipeline.stages[1].probability",
    }


def test_stages_are_archived_not_removed() -> None:
    p = pipeline()
    with pytest.raises(InvalidArgument, match="archive"):
        p.update(None, STAGES[:2], NOW)
    archived = (STAGES[1], STAGES[0], Stage("won", "Verbal", 90, archived=True))
    assert p.update("Renamed", archived, NOW) == ["display_name", "stages"]
    assert p.newly_archived_stages(STAGES) == ["won"]
    assert [s.id for s in p.open_stages] == ["proposal", "lead"]
    with pytest.raises(FailedPrecondition, match="archived"):
        require_open_stage(p, "won", "opportunity.stage")
    with pytest.raises(InvalidArgument):
        require_open_stage(p, "nope", "opportunity.stage")


# Opportunities


def test_probability_follows_the_stage_unless_overridden() -> None:
    p = pipeline()
    opportunity = deal()
    assert opportunity.probability(p) == 10
    opportunity.move_to(p, "proposal", NOW + timedelta(days=2))
    assert opportunity.probability(p) == 50
    assert opportunity.forecast_category(p) is ForecastCategory.BEST_CASE
    opportunity.update({"probability": 95}, NOW)
    assert opportunity.forecast_category(p) is ForecastCategory.COMMIT


def test_stage_history_records_every_visit() -> None:
    p = pipeline()
    opportunity = deal()
    later = NOW + timedelta(days=3)
    assert opportunity.move_to(p, "proposal", later)
    assert not opportunity.move_to(p, "proposal", later)
    opportunity.close(State.WON, "price", later + timedelta(days=1))
    lead, proposal = opportunity.stage_history
    assert (lead.stage_id, lead.leave_time) == ("lead", later)
    assert proposal.leave_time == later + timedelta(days=1)
    assert opportunity.probability(p) == 100


def test_closed_deals_must_be_reopened_before_they_change() -> None:
    p = pipeline()
    opportunity = deal()
    opportunity.close(State.LOST, "budget", NOW)
    assert opportunity.probability(p) == 0
    with pytest.raises(FailedPrecondition, match="reopen"):
        opportunity.move_to(p, "proposal", NOW)
    with pytest.raises(FailedPrecondition):
        opportunity.close(State.WON, "x", NOW)
    opportunity.reopen(NOW + timedelta(hours=1))
    assert opportunity.state is State.OPEN and opportunity.close_reason == ""
    assert opportunity.stage_history[-1].leave_time is None
    with pytest.raises(FailedPrecondition, match="already open"):
        opportunity.reopen(NOW)


def test_opportunity_validation_names_fields() -> None:
    details = OpportunityDetails(
        display_name=" ", value=Money("", Decimal(0)), people=("bob",), probability=101
    )
    with pytest.raises(InvalidArgument) as raised:
        Opportunity.create("D!", details, pipeline(), "lead", NOW)
    assert {v.field for v in raised.value.violations} == {
        "opportunity_id",
        "opportunity.display_name",
        "opportunity.value",
        "opportunity.probability",
        "opportunity.people[0]",
    }


@pytest.mark.parametrize(
    ("probability", "category"),
    [
        (0, ForecastCategory.PIPELINE),
        (50, ForecastCategory.BEST_CASE),
        (90, ForecastCategory.COMMIT),
    ],
)
def test_default_forecast_category(probability: int, category: ForecastCategory) -> None:
    assert default_category(probability) is category


# Forecasts


def test_periods_start_on_month_or_quarter() -> None:
    assert period_start(date(2026, 11, 24), Period.MONTH) == date(2026, 11, 1)
    assert period_start(date(2026, 11, 24), Period.QUARTER) == date(2026, 10, 1)
    assert period_start(date(2026, 3, 31), Period.QUARTER) == date(2026, 1, 1)


def _bucket(owner: str = "", currency: str = "EUR", **sums: str | int) -> Bucket:
    """A line's deals as the database sums them; amounts in units, weighted ones
    already times the probability."""
    values: dict[str, int] = {
        "won_count": 0,
        "won_nanos": 0,
        "open_count": 0,
        "open_weighted_percent_nanos": 0,
        "open_pipeline_nanos": 0,
        "open_best_case_nanos": 0,
        "open_commit_nanos": 0,
    }
    for name, value in sums.items():
        if name.endswith("_count"):
            values[name] = int(value)
        elif name == "open_weighted":
            values["open_weighted_percent_nanos"] = _nanos(str(value)) * 100
        else:
            values[f"{name}_nanos"] = _nanos(str(value))
    return Bucket(LineKey(date(2026, 10, 1), owner, "", currency), **values)


def _nanos(amount: str) -> int:
    return int(Decimal(amount) * NANOS_PER_UNIT)


def test_forecast_figures_nest_closed_commit_best_case_pipeline() -> None:
    buckets = [
        _bucket(won="100", won_count=1, open_commit="200", open_weighted="180", open_count=1),
        # The same line's other days, read from a second source.
        _bucket(open_best_case="300", open_pipeline="400", open_weighted="190", open_count=2),
    ]
    (line,) = forecast(buckets)
    assert (line.closed, line.commit, line.best_case, line.pipeline) == (100, 300, 600, 900)
    assert line.weighted == Decimal("470")
    assert (line.open_count, line.won_count) == (3, 1)


def test_forecast_converts_currencies_or_keeps_them_apart() -> None:
    buckets = [
        _bucket(open_pipeline="100", open_weighted="10", open_count=1),
        _bucket(currency="USD", open_pipeline="100", open_weighted="10", open_count=1),
    ]
    apart = forecast(buckets)
    assert [(line.key.currency, line.pipeline) for line in apart] == [("EUR", 100), ("USD", 100)]
    rates = ExchangeRates("EUR", {"USD": Decimal("0.5")})
    in_euros = Conversion(rates, "EUR")
    (together,) = in_euros.forecast(buckets)
    assert (together.key.currency, together.pipeline, together.weighted) == ("EUR", 150, 15)
    assert together.open_count == 2
    owners = [
        _bucket(owner="ada", open_pipeline="100", open_count=1),
        _bucket(owner="bob", currency="USD", open_pipeline="100", open_count=1),
    ]
    by_owner = in_euros.forecast(owners)
    assert [(line.key.owner, line.pipeline) for line in by_owner] == [("ada", 100), ("bob", 50)]
