"""Use cases for the forecast and the sales reports: read-only, one snapshot each."""

from dataclasses import dataclass

from crm_common.errors import NotFound
from crm_common.filtering import Expr
from crm_common.messaging.uow import UnitOfWork
from crm_sales.domain.forecast import ForecastLine, Period, forecast
from crm_sales.domain.money import ExchangeRates
from crm_sales.domain.opportunities import State
from crm_sales.domain.pipelines import Pipeline
from crm_sales.domain.reports import (
    Amounts,
    Conversion,
    DayRange,
    DurationSummary,
    FunnelStep,
    ReasonTally,
    WinRateLine,
    add_to,
    check_line_count,
    funnel,
    in_currency,
    reason_tallies,
    win_rates,
)
from crm_sales.storage.exchange_rates import ExchangeRateRepository
from crm_sales.storage.pipelines import PipelineRepository
from crm_sales.storage.reports import ReportQueries


@dataclass(frozen=True)
class Currency:
    """Which currency a report totals in: `target` ("" for each deal's own),
    through exchange rates into `base`."""

    base: str
    target: str = ""


@dataclass(frozen=True)
class Funnel:
    pipeline: Pipeline
    steps: list[FunnelStep]
    won_count: int
    won_value: Amounts
    lost_count: int


async def get_forecast(
    uow: UnitOfWork,
    days: DayRange,
    period: Period,
    expr: Expr | None,
    *,
    by_owner: bool,
    by_pipeline: bool,
    currency: Currency,
) -> list[ForecastLine]:
    async with uow:
        # The buckets first: their statements open the snapshot they share.
        buckets = await ReportQueries(uow.session).forecast_buckets(
            days, period, expr, by_owner=by_owner, by_pipeline=by_pipeline
        )
        conversion = await _conversion(uow, currency)
    lines = forecast(buckets) if conversion is None else conversion.forecast(buckets)
    check_line_count(len(lines))
    return lines


async def get_funnel(
    uow: UnitOfWork, pipeline_id: str, created: DayRange | None, currency: Currency
) -> Funnel:
    async with uow:
        pipeline = await _existing_pipeline(uow, pipeline_id)
        conversion = await _conversion(uow, currency)
        figures = await ReportQueries(uow.session).funnel_figures(pipeline_id, created)
    won_count = lost_count = 0
    won_value: Amounts = {}
    for state, code, count, amount in figures.closed:
        if state is State.WON:
            won_count += count
            add_to(won_value, code, amount)
        else:
            lost_count += count
    steps = funnel(pipeline, figures.furthest, figures.current, conversion)
    return Funnel(pipeline, steps, won_count, in_currency(won_value, conversion), lost_count)


async def get_stage_durations(
    uow: UnitOfWork, pipeline_id: str
) -> tuple[Pipeline, dict[str, DurationSummary]]:
    async with uow:
        pipeline = await _existing_pipeline(uow, pipeline_id)
        return pipeline, await ReportQueries(uow.session).stage_durations(pipeline_id)


async def get_win_rates(
    uow: UnitOfWork,
    days: DayRange,
    period: Period,
    expr: Expr | None,
    *,
    by_owner: bool,
    currency: Currency,
) -> list[WinRateLine]:
    async with uow:
        conversion = await _conversion(uow, currency)
        buckets = await ReportQueries(uow.session).closed_buckets(
            days, period, expr, by_owner=by_owner
        )
    return win_rates(buckets, by_owner=by_owner, conversion=conversion)


async def get_reason_tallies(
    uow: UnitOfWork, days: DayRange, expr: Expr | None, currency: Currency
) -> list[ReasonTally]:
    async with uow:
        conversion = await _conversion(uow, currency)
        queries = ReportQueries(uow.session)
        buckets = await queries.reason_buckets(days, expr)
        names = await queries.reason_names(sorted({b.reason_id for b in buckets if b.reason_id}))
    return reason_tallies(buckets, names, conversion)


async def _conversion(uow: UnitOfWork, currency: Currency) -> Conversion | None:
    """The conversion into the currency asked for, with the rates in force now."""
    if not currency.target:
        return None
    rates = await ExchangeRateRepository(uow.session).all()
    conversion = Conversion(ExchangeRates(currency.base, rates), currency.target)
    conversion.check()
    return conversion


async def _existing_pipeline(uow: UnitOfWork, pipeline_id: str) -> Pipeline:
    pipeline = await PipelineRepository(uow.session).get(pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipelines/{pipeline_id} does not exist")
    return pipeline
