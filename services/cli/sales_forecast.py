"""`crm sales forecast`: the forecast per month or quarter as a table.

One row per period (and owner or pipeline with --by) and currency, or one
currency with --currency: open deals, weighted pipeline, pipeline, best case,
commit and won values, exact to the cent.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

from google.type import date_pb2
from google.type.money_pb2 import Money

from crm.sales.v1 import forecast_service_pb2 as pb
from crm.sales.v1.forecast_service_pb2_grpc import ForecastServiceStub
from crm_cli.money import format_money, money_amount
from crm_cli.rpc import CommandError
from crm_cli.sales import PIPELINES, SALES
from crm_cli.tables import format_table

PERIODS = {"month": pb.REPORT_PERIOD_MONTH, "quarter": pb.REPORT_PERIOD_QUARTER}
GROUPINGS = {
    "none": pb.FORECAST_GROUPING_UNSPECIFIED,
    "owner": pb.FORECAST_GROUPING_OWNER,
    "pipeline": pb.FORECAST_GROUPING_PIPELINE,
}
# Periods shown when --to is not given: a year ahead.
DEFAULT_PERIODS = {"month": 12, "quarter": 4}
FIGURES = ("DEALS", "WEIGHTED", "PIPELINE", "BEST CASE", "COMMIT", "WON")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    forecast = commands.add_parser(
        "forecast",
        help="the forecast per month or quarter: weighted, best case, commit, won",
        description="Prints the forecast from the start of the current period for a year "
        "(or --from/--to): per period and currency, open deals counted by their expected "
        "close date and won ones by the day they closed. --currency converts every amount "
        "through the exchange-rate table.",
    )
    forecast.add_argument("--period", choices=sorted(PERIODS), default="month")
    forecast.add_argument("--by", choices=sorted(GROUPINGS), default="none", help="breakdown")
    forecast.add_argument("--currency", default="", help="ISO code to convert into, e.g. EUR")
    forecast.add_argument("--from", dest="start", type=_day, help="first day, YYYY-MM-DD")
    forecast.add_argument("--to", dest="end", type=_day, help="last day, YYYY-MM-DD")
    forecast.add_argument("--filter", default="", help='AIP-160 filter, e.g. owner = "ada"')
    forecast.set_defaults(func=forecast_command)


def forecast_command(args: argparse.Namespace) -> int:
    request = forecast_request(args, datetime.now(UTC).date())
    try:
        with SALES.connect(ForecastServiceStub) as forecasts:
            response = forecasts.GetForecast(request)
    except CommandError as error:
        return SALES.fail(error)
    print(forecast_table(response))
    return 0


def forecast_request(args: argparse.Namespace, today: date) -> pb.GetForecastRequest:
    start = args.start or period_start(today, args.period)
    end = args.end or _periods_on(start, args.period)
    return pb.GetForecastRequest(
        period=PERIODS[args.period],
        start_date=_proto_date(start),
        end_date=_proto_date(end),
        group_by=GROUPINGS[args.by],
        currency_code=args.currency.upper(),
        filter=args.filter,
    )


def forecast_table(forecast: pb.Forecast) -> str:
    if not forecast.lines:
        return "No open or won deals in that range."
    group = {
        pb.FORECAST_GROUPING_OWNER: "OWNER",
        pb.FORECAST_GROUPING_PIPELINE: "PIPELINE",
    }.get(forecast.group_by)
    rows = [["PERIOD", *([group] if group else []), "CURRENCY", *FIGURES]]
    for line in forecast.lines:
        key = [_period_label(line.period_start_date, forecast.period)]
        if group == "OWNER":
            key.append(line.owner or "(nobody)")
        elif group == "PIPELINE":
            key.append(line.pipeline.removeprefix(PIPELINES))
        rows.append(
            [
                *key,
                line.weighted_value.currency_code,
                str(line.open_count + line.won_count),
                *(
                    _amount(value)
                    for value in (
                        line.weighted_value,
                        line.pipeline_value,
                        line.best_case_value,
                        line.commit_value,
                        line.closed_value,
                    )
                ),
            ]
        )
    return format_table(rows)


def period_start(day: date, period: str) -> date:
    month = day.month if period == "month" else 3 * ((day.month - 1) // 3) + 1
    return date(day.year, month, 1)


def _periods_on(start: date, period: str) -> date:
    """The last day of the default number of whole periods from `start`'s on."""
    first = period_start(start, period)
    months = DEFAULT_PERIODS[period] * (1 if period == "month" else 3)
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1) - timedelta(days=1)


def _period_label(start: date_pb2.Date, period: int) -> str:
    if period == pb.REPORT_PERIOD_QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02}"


def _amount(value: Money) -> str:
    currency, amount = money_amount(value)
    return format_money(currency, amount).removeprefix(f"{currency} ")


def _proto_date(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-03-31") from None
