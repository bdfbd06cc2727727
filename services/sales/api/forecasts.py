"""The ForecastService servicer: exchange rates, the forecast and the sales reports.

Requests are checked here into domain values (INVALID_ARGUMENT naming every
field at fault at once); figures come back as google.type.Money, exact.
"""

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from google.protobuf import empty_pb2
from google.type import date_pb2, money_pb2
from grpc.aio import ServicerContext

from crm.sales.v1 import exchange_rate_pb2 as rate_pb
from crm.sales.v1 import forecast_service_pb2 as pb
from crm.sales.v1 import forecast_service_pb2_grpc as pb_grpc
from crm.sales.v1 import opportunity_pb2
from crm_common.config import SuiteSettings
from crm_common.errors import InvalidArgument, Violations
from crm_common.etags import etag_for
from crm_common.fieldmask import resolve_update_mask
from crm_common.filtering import Expr, parse_filter
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_common.pagination import decode_page_token, encode_page_token, page_size, query_digest
from crm_common.resources import require_id
from crm_sales.domain.exchange_rates import (
    ExchangeRate,
    check_currency_code,
    currency_from_name,
    parse_exchange_rate,
    rate_text,
)
from crm_sales.domain.forecast import ForecastLine, Period
from crm_sales.domain.money import split_nanos, to_units_nanos
from crm_sales.domain.opportunities import FILTER_SCHEMA, State
from crm_sales.domain.reports import DurationSummary, day_range
from crm_sales.handlers import exchange_rates as rates
from crm_sales.handlers import forecasts
from crm_sales.handlers.forecasts import Currency

PIPELINES = "pipelines/"
CLOSE_REASONS = "closeReasons/"
_PERIODS = {
    pb.REPORT_PERIOD_UNSPECIFIED: Period.MONTH,
    pb.REPORT_PERIOD_MONTH: Period.MONTH,
    pb.REPORT_PERIOD_QUARTER: Period.QUARTER,
}
_PERIOD_ENUMS = {Period.MONTH: pb.REPORT_PERIOD_MONTH, Period.QUARTER: pb.REPORT_PERIOD_QUARTER}
# (by owner, by pipeline) per forecast grouping.
_FORECAST_GROUPINGS = {
    pb.FORECAST_GROUPING_UNSPECIFIED: (False, False),
    pb.FORECAST_GROUPING_OWNER: (True, False),
    pb.FORECAST_GROUPING_PIPELINE: (False, True),
    pb.FORECAST_GROUPING_OWNER_AND_PIPELINE: (True, True),
}
_WIN_RATE_GROUPINGS = {pb.WIN_RATE_GROUPING_UNSPECIFIED: False, pb.WIN_RATE_GROUPING_OWNER: True}
# Exchange rates are listed by currency code only; the digest ties a token to that.
_RATES_DIGEST = query_digest(order_by=[("currency_code", False)])
_OUTCOMES = {
    State.WON: opportunity_pb2.OPPORTUNITY_STATE_WON,
    State.LOST: opportunity_pb2.OPPORTUNITY_STATE_LOST,
}


class ForecastServicer(pb_grpc.ForecastServiceServicer):
    def __init__(self, units: UnitOfWorkFactory, base_currency: str = "") -> None:
        self._units = units
        self._base = base_currency or SuiteSettings().base_currency

    # Exchange rates

    async def GetExchangeRate(
        self, request: pb.GetExchangeRateRequest, context: ServicerContext
    ) -> rate_pb.ExchangeRate:
        currency = currency_from_name(request.name, "name")
        return self._rate_to_proto(await rates.get_rate(self._units(), currency))

    async def ListExchangeRates(
        self, request: pb.ListExchangeRatesRequest, context: ServicerContext
    ) -> pb.ListExchangeRatesResponse:
        size = page_size(request.page_size)
        after = decode_page_token(request.page_token, _RATES_DIGEST)
        page = await rates.list_rates(self._units(), after, size)
        return pb.ListExchangeRatesResponse(
            exchange_rates=[self._rate_to_proto(rate) for rate in page.items],
            next_page_token=(
                "" if page.next_key is None else encode_page_token(page.next_key, _RATES_DIGEST)
            ),
        )

    async def UpdateExchangeRate(
        self, request: pb.UpdateExchangeRateRequest, context: ServicerContext
    ) -> rate_pb.ExchangeRate:
        violations = Violations()
        message = request.exchange_rate
        currency = ""
        try:
            currency = currency_from_name(message.name, "exchange_rate.name")
        except InvalidArgument as error:
            violations.extend(error.violations)
        if currency == self._base:
            violations.add(
                "exchange_rate.name",
                f"{currency} is the base currency; its rate is 1 by definition",
            )
        try:
            resolve_update_mask(request.update_mask, message, ("rate",))
        except InvalidArgument as error:
            violations.extend(error.violations)
        rate = parse_exchange_rate(violations, "exchange_rate.rate", message.rate)
        violations.raise_if_any()
        assert rate is not None
        updated = await rates.set_rate(
            self._units(), currency, rate, message.etag, allow_missing=request.allow_missing
        )
        return self._rate_to_proto(updated)

    async def DeleteExchangeRate(
        self, request: pb.DeleteExchangeRateRequest, context: ServicerContext
    ) -> empty_pb2.Empty:
        currency = currency_from_name(request.name, "name")
        await rates.delete_rate(self._units(), currency, request.etag)
        return empty_pb2.Empty()

    # Forecast and reports

    async def GetForecast(
        self, request: pb.GetForecastRequest, context: ServicerContext
    ) -> pb.Forecast:
        violations = Violations()
        period = _period(violations, request.period)
        days = day_range(
            violations, _parts(request.start_date), _parts(request.end_date), required=True
        )
        grouping = _FORECAST_GROUPINGS.get(request.group_by)
        if grouping is None:
            violations.add("group_by", f"{request.group_by} is not a known value")
        currency = self._currency(violations, request.currency_code)
        expr = _filter(violations, request.filter)
        violations.raise_if_any()
        assert period is not None and days is not None and grouping is not None
        lines = await forecasts.get_forecast(
            self._units(),
            days,
            period,
            expr,
            by_owner=grouping[0],
            by_pipeline=grouping[1],
            currency=currency,
        )
        result = pb.Forecast(
            period=_PERIOD_ENUMS[period],
            start_date=request.start_date,
            end_date=request.end_date,
            group_by=request.group_by,
            currency_code=currency.target,
            filter=request.filter,
        )
        _add_forecast_lines(result, lines)
        return result

    async def GetFunnelReport(
        self, request: pb.GetFunnelReportRequest, context: ServicerContext
    ) -> pb.FunnelReport:
        violations = Violations()
        pipeline_id = _pipeline_id(violations, request.pipeline)
        created = day_range(
            violations, _parts(request.start_date), _parts(request.end_date), required=False
        )
        currency = self._currency(violations, request.currency_code)
        violations.raise_if_any()
        report = await forecasts.get_funnel(self._units(), pipeline_id, created, currency)
        return pb.FunnelReport(
            pipeline=report.pipeline.name,
            currency_code=currency.target,
            stages=[
                pb.FunnelStage(
                    stage_id=step.stage_id,
                    display_name=step.display_name,
                    archived=step.archived,
                    reached_count=step.reached_count,
                    reached_value=_moneys(step.reached_value),
                    current_count=step.current_count,
                    current_value=_moneys(step.current_value),
                    next_stage_conversion_percent=step.next_stage_conversion_percent,
                )
                for step in report.steps
            ],
            won_count=report.won_count,
            won_value=_moneys(report.won_value),
            lost_count=report.lost_count,
        )

    async def GetStageDurationReport(
        self, request: pb.GetStageDurationReportRequest, context: ServicerContext
    ) -> pb.StageDurationReport:
        violations = Violations()
        pipeline_id = _pipeline_id(violations, request.pipeline)
        violations.raise_if_any()
        pipeline, durations = await forecasts.get_stage_durations(self._units(), pipeline_id)
        none = DurationSummary(0, None, None)
        return pb.StageDurationReport(
            pipeline=pipeline.name,
            stages=[
                _stage_duration(
                    stage.id, stage.display_name, stage.archived, durations.get(stage.id, none)
                )
                for stage in pipeline.stages
            ],
        )

    async def GetWinRateReport(
        self, request: pb.GetWinRateReportRequest, context: ServicerContext
    ) -> pb.WinRateReport:
        violations = Violations()
        period = _period(violations, request.period)
        days = day_range(
            violations, _parts(request.start_date), _parts(request.end_date), required=True
        )
        by_owner = _WIN_RATE_GROUPINGS.get(request.group_by)
        if by_owner is None:
            violations.add("group_by", f"{request.group_by} is not a known value")
        currency = self._currency(violations, request.currency_code)
        expr = _filter(violations, request.filter)
        violations.raise_if_any()
        assert period is not None and days is not None and by_owner is not None
        lines = await forecasts.get_win_rates(
            self._units(), days, period, expr, by_owner=by_owner, currency=currency
        )
        return pb.WinRateReport(
            period=_PERIOD_ENUMS[period],
            start_date=request.start_date,
            end_date=request.end_date,
            group_by=request.group_by,
            currency_code=currency.target,
            lines=[
                pb.WinRateLine(
                    period_start_date=_date(line.period_start),
                    owner=line.owner,
                    won_count=line.won_count,
                    lost_count=line.lost_count,
                    win_rate_percent=line.win_rate_percent,
                    won_value=_moneys(line.won_value),
                    average_won_value=_moneys(line.average_won_value),
                )
                for line in lines
            ],
        )

    async def GetWinLossReasonsReport(
        self, request: pb.GetWinLossReasonsReportRequest, context: ServicerContext
    ) -> pb.WinLossReasonsReport:
        violations = Violations()
        days = day_range(
            violations, _parts(request.start_date), _parts(request.end_date), required=True
        )
        currency = self._currency(violations, request.currency_code)
        expr = _filter(violations, request.filter)
        violations.raise_if_any()
        assert days is not None
        tallies = await forecasts.get_reason_tallies(self._units(), days, expr, currency)
        return pb.WinLossReasonsReport(
            start_date=request.start_date,
            end_date=request.end_date,
            currency_code=currency.target,
            reasons=[
                pb.CloseReasonTally(
                    close_reason=f"{CLOSE_REASONS}{tally.reason_id}" if tally.reason_id else "",
                    display_name=tally.display_name,
                    outcome=_OUTCOMES[tally.outcome],
                    count=tally.count,
                    value=_moneys(tally.value),
                )
                for tally in tallies
            ],
        )

    def _currency(self, violations: Violations, code: str) -> Currency:
        if code:
            check_currency_code(violations, "currency_code", code)
        return Currency(self._base, code)

    def _rate_to_proto(self, rate: ExchangeRate) -> rate_pb.ExchangeRate:
        message = rate_pb.ExchangeRate(
            name=rate.name,
            currency_code=rate.currency,
            base_currency_code=self._base,
            rate=rate_text(rate.rate),
            etag=etag_for(rate.version),
        )
        message.update_time.FromDatetime(rate.update_time)
        return message


def _period(violations: Violations, value: int) -> Period | None:
    period = _PERIODS.get(value)
    if period is None:
        violations.add("period", f"{value} is not a known value")
    return period


def _pipeline_id(violations: Violations, name: str) -> str:
    if not name:
        violations.add("pipeline", "is required")
        return ""
    try:
        return require_id(name, PIPELINES, "pipeline", "a pipeline name such as pipelines/1")
    except InvalidArgument as error:
        violations.extend(error.violations)
        return ""


def _filter(violations: Violations, text: str) -> Expr | None:
    try:
        return parse_filter(text, FILTER_SCHEMA)
    except InvalidArgument as error:
        violations.extend(error.violations)
        return None


def _parts(value: date_pb2.Date) -> tuple[int, int, int]:
    return value.year, value.month, value.day


def _date(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def _money(currency: str, amount: Decimal) -> money_pb2.Money:
    units, nanos = to_units_nanos(amount)
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def _moneys(amounts: Mapping[str, Decimal]) -> list[money_pb2.Money]:
    return [_money(currency, amount) for currency, amount in sorted(amounts.items())]


def _add_forecast_lines(forecast: pb.Forecast, lines: list[ForecastLine]) -> None:
    """Adds the lines to `forecast`, each built in place from plain values:
    thousands of lines are built per call, and this is protobuf's cheapest way
    to fill them (the few period dates are made once)."""
    add = forecast.lines.add
    dates: dict[date, dict[str, int]] = {}
    for line in lines:
        key = line.key
        start = key.period_start
        day = dates.get(start)
        if day is None:
            day = dates[start] = {"year": start.year, "month": start.month, "day": start.day}
        currency = key.currency
        add(
            period_start_date=day,
            owner=key.owner,
            pipeline=f"{PIPELINES}{key.pipeline_id}" if key.pipeline_id else "",
            weighted_value=_money_fields(currency, line.weighted_nanos),
            pipeline_value=_money_fields(currency, line.pipeline_nanos),
            best_case_value=_money_fields(currency, line.best_case_nanos),
            commit_value=_money_fields(currency, line.commit_nanos),
            closed_value=_money_fields(currency, line.closed_nanos),
            open_count=line.open_count,
            won_count=line.won_count,
        )


def _money_fields(currency: str, nanos: int) -> dict[str, str | int]:
    units, fraction = split_nanos(nanos)
    return {"currency_code": currency, "units": units, "nanos": fraction}


def _stage_duration(
    stage_id: str, display_name: str, archived: bool, summary: DurationSummary
) -> pb.StageDuration:
    message = pb.StageDuration(
        stage_id=stage_id,
        display_name=display_name,
        archived=archived,
        visit_count=summary.count,
    )
    if summary.mean is not None:
        message.mean.FromTimedelta(summary.mean)
    if summary.median is not None:
        message.median.FromTimedelta(summary.median)
    return message
