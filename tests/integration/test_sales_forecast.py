"""The exchange-rate table and the forecast through the sales service, on SQLite and
PostgreSQL: exact figures per period, owner, pipeline and currency, conversion,
and bad input for every RPC."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.type import date_pb2, money_pb2

from crm.sales.v1 import close_reason_pb2 as reason_pb
from crm.sales.v1 import exchange_rate_pb2 as rate_pb
from crm.sales.v1 import forecast_service_pb2 as pb
from crm.sales.v1 import opportunity_pb2 as opp_pb
from crm.sales.v1 import pipeline_pb2 as pipe_pb
from crm.sales.v1 import sales_service_pb2 as sales_pb
from crm.sales.v1.forecast_service_pb2_grpc import ForecastServiceStub
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from tests.integration.harness import Suite, field_violations, rpc_error

STAGES = (("lead", 10), ("demo", 50), ("deal", 90))
MONTH = pb.REPORT_PERIOD_MONTH
QUARTER = pb.REPORT_PERIOD_QUARTER


@pytest.fixture(scope="module")
def sales(sales_suite: Suite) -> SalesServiceStub:
    return sales_suite.stub("sales", SalesServiceStub)


@pytest.fixture(scope="module")
def forecasts(sales_suite: Suite) -> ForecastServiceStub:
    return sales_suite.stub("sales", ForecastServiceStub)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def today() -> date:
    return datetime.now(UTC).date()


def day(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def money(currency: str, amount: str) -> money_pb2.Money:
    exact = Decimal(amount)
    units = int(exact)
    return money_pb2.Money(
        currency_code=currency, units=units, nanos=int((exact - units) * 1_000_000_000)
    )


def amount(value: money_pb2.Money) -> tuple[str, Decimal]:
    return value.currency_code, Decimal(value.units) + Decimal(value.nanos) / 1_000_000_000


def amounts(values: list[money_pb2.Money]) -> dict[str, Decimal]:
    return dict(amount(value) for value in values)


def new_pipeline(
    sales: SalesServiceStub, stages: tuple[tuple[str, int], ...] = STAGES
) -> pipe_pb.Pipeline:
    pipeline = pipe_pb.Pipeline(
        display_name="New business",
        stages=[
            pipe_pb.Stage(id=stage_id, display_name=stage_id.title(), probability=probability)
            for stage_id, probability in stages
        ],
    )
    return sales.CreatePipeline(
        sales_pb.CreatePipelineRequest(pipeline=pipeline, pipeline_id=unique("p"))
    )


def new_reason(sales: SalesServiceStub, kind: int, display_name: str) -> reason_pb.CloseReason:
    reason = reason_pb.CloseReason(display_name=display_name, kind=kind)
    return sales.CreateCloseReason(
        sales_pb.CreateCloseReasonRequest(close_reason=reason, close_reason_id=unique("r"))
    )


def new_deal(
    sales: SalesServiceStub,
    pipeline: pipe_pb.Pipeline,
    value: money_pb2.Money,
    *,
    owner: str = "ada",
    close: date | None = None,
    path: tuple[str, ...] = ("lead",),
    **fields: object,
) -> opp_pb.Opportunity:
    deal = opp_pb.Opportunity(
        display_name="Engine",
        value=value,
        owner=owner,
        pipeline=pipeline.name,
        stage=f"{pipeline.name}/stages/{path[0]}",
        **fields,  # type: ignore[arg-type]
    )
    if close is not None:
        deal.expected_close_date.CopyFrom(day(close))
    created = sales.CreateOpportunity(sales_pb.CreateOpportunityRequest(opportunity=deal))
    for stage in path[1:]:
        created = sales.MoveOpportunity(
            sales_pb.MoveOpportunityRequest(
                name=created.name, stage=f"{pipeline.name}/stages/{stage}"
            )
        )
    return created


def win(
    sales: SalesServiceStub, deal: opp_pb.Opportunity, reason: reason_pb.CloseReason
) -> opp_pb.Opportunity:
    request = sales_pb.WinOpportunityRequest(name=deal.name, close_reason=reason.name)
    return sales.WinOpportunity(request)


def close_day(deal: opp_pb.Opportunity) -> date:
    """The UTC day a deal was closed (the tests may run across midnight)."""
    return deal.close_time.ToDatetime(tzinfo=UTC).date()


def lose(sales: SalesServiceStub, deal: opp_pb.Opportunity, reason: reason_pb.CloseReason) -> None:
    sales.LoseOpportunity(sales_pb.LoseOpportunityRequest(name=deal.name, close_reason=reason.name))


def set_rate(forecasts: ForecastServiceStub, currency: str, rate: str) -> rate_pb.ExchangeRate:
    return forecasts.UpdateExchangeRate(
        pb.UpdateExchangeRateRequest(
            exchange_rate=rate_pb.ExchangeRate(name=f"exchangeRates/{currency}", rate=rate),
            allow_missing=True,
        )
    )


def line_key(line: pb.ForecastLine) -> tuple[date, str, str, str]:
    start = line.period_start_date
    return (
        date(start.year, start.month, start.day),
        line.owner,
        line.pipeline,
        line.weighted_value.currency_code,
    )


def figures(line: pb.ForecastLine) -> dict[str, object]:
    return {
        "pipeline": amount(line.pipeline_value)[1],
        "weighted": amount(line.weighted_value)[1],
        "best_case": amount(line.best_case_value)[1],
        "commit": amount(line.commit_value)[1],
        "closed": amount(line.closed_value)[1],
        "open": line.open_count,
        "won": line.won_count,
    }


def figures_of(
    pipeline_value: str = "0",
    weighted: str = "0",
    best_case: str = "0",
    commit: str = "0",
    closed: str = "0",
    open_count: int = 0,
    won_count: int = 0,
) -> dict[str, object]:
    return {
        "pipeline": Decimal(pipeline_value),
        "weighted": Decimal(weighted),
        "best_case": Decimal(best_case),
        "commit": Decimal(commit),
        "closed": Decimal(closed),
        "open": open_count,
        "won": won_count,
    }


@pytest.fixture(scope="module")
def book(sales: SalesServiceStub, forecasts: ForecastServiceStub) -> dict[str, object]:
    """A pipeline's deals: open ones next year, one won and one lost today."""
    pipeline = new_pipeline(sales)
    next_year = today().year + 1
    new_deal(sales, pipeline, money("EUR", "1000.50"), close=date(next_year, 2, 10))
    new_deal(
        sales, pipeline, money("USD", "200"), owner="bob", close=date(next_year, 2, 20),
        path=("lead", "demo"),
    )  # fmt: skip
    new_deal(
        sales, pipeline, money("EUR", "300"), close=date(next_year, 5, 1), path=("lead", "deal")
    )
    new_deal(
        sales, pipeline, money("EUR", "99"), close=date(next_year, 5, 1),
        forecast_category=opp_pb.FORECAST_CATEGORY_OMITTED,
    )  # fmt: skip
    won = new_deal(sales, pipeline, money("EUR", "400"), close=date(next_year, 9, 9))
    won = win(sales, won, new_reason(sales, reason_pb.CLOSE_REASON_KIND_WON, "Best product"))
    lost = new_deal(sales, pipeline, money("EUR", "500"), close=date(next_year, 9, 9))
    lose(sales, lost, new_reason(sales, reason_pb.CLOSE_REASON_KIND_LOST, "Price"))
    set_rate(forecasts, "USD", "0.9")
    return {"pipeline": pipeline, "next_year": next_year, "won_on": close_day(won)}


def forecast_request(book: dict[str, object], **fields: object) -> pb.GetForecastRequest:
    pipeline = book["pipeline"]
    assert isinstance(pipeline, pipe_pb.Pipeline)
    return pb.GetForecastRequest(
        start_date=day(date(today().year - 1, 1, 1)),
        end_date=day(date(int(str(book["next_year"])), 12, 31)),
        filter=f'pipeline = "{pipeline.name}"',
        **fields,  # type: ignore[arg-type]
    )


# Forecast


def test_forecast_per_month_and_currency(
    forecasts: ForecastServiceStub, book: dict[str, object]
) -> None:
    response = forecasts.GetForecast(forecast_request(book))
    year = int(str(book["next_year"]))
    won_on = book["won_on"]
    assert isinstance(won_on, date)
    this_month = won_on.replace(day=1)
    lines = {line_key(line): figures(line) for line in response.lines}
    assert list(lines) == sorted(lines)
    assert lines == {
        (this_month, "", "", "EUR"): figures_of(
            weighted="400", best_case="400", commit="400", closed="400", won_count=1
        ),
        (date(year, 2, 1), "", "", "EUR"): figures_of(
            pipeline_value="1000.50", weighted="100.05", open_count=1
        ),
        (date(year, 2, 1), "", "", "USD"): figures_of(
            pipeline_value="200", weighted="100", best_case="200", open_count=1
        ),
        (date(year, 5, 1), "", "", "EUR"): figures_of(
            pipeline_value="300", weighted="270", best_case="300", commit="300", open_count=1
        ),
    }
    assert response.period == MONTH and response.currency_code == ""


def test_forecast_per_quarter_and_owner_converted(
    forecasts: ForecastServiceStub, book: dict[str, object]
) -> None:
    response = forecasts.GetForecast(
        forecast_request(
            book, period=QUARTER, group_by=pb.FORECAST_GROUPING_OWNER, currency_code="EUR"
        )
    )
    year = int(str(book["next_year"]))
    lines = {line_key(line)[:3]: figures(line) for line in response.lines}
    assert {line_key(line)[3] for line in response.lines} == {"EUR"}
    assert lines[(date(year, 1, 1), "ada", "")] == figures_of(
        pipeline_value="1000.50", weighted="100.05", open_count=1
    )
    assert lines[(date(year, 1, 1), "bob", "")] == figures_of(
        pipeline_value="180", weighted="90", best_case="180", open_count=1
    )
    assert lines[(date(year, 4, 1), "ada", "")]["commit"] == Decimal(300)
    assert response.currency_code == "EUR" and response.period == QUARTER


def test_forecast_into_a_currency_other_than_the_base(
    forecasts: ForecastServiceStub, book: dict[str, object]
) -> None:
    response = forecasts.GetForecast(
        forecast_request(book, group_by=pb.FORECAST_GROUPING_PIPELINE, currency_code="USD")
    )
    year = int(str(book["next_year"]))
    pipeline = book["pipeline"]
    assert isinstance(pipeline, pipe_pb.Pipeline)
    february = {line_key(line): line for line in response.lines}[
        (date(year, 2, 1), "", pipeline.name, "USD")
    ]
    # 1000.50 EUR + 180 EUR = 1180.50 EUR = 1311.6666... USD, rounded half-even to the nano.
    assert figures(february) == figures_of(
        pipeline_value="1311.666666667",
        weighted="211.166666667",
        best_case="200",
        open_count=2,
    )


def test_forecast_conversion_needs_every_rate(
    sales: SalesServiceStub, forecasts: ForecastServiceStub, book: dict[str, object]
) -> None:
    error = rpc_error(lambda: forecasts.GetForecast(forecast_request(book, currency_code="JPY")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "JPY" in str(error.details())
    pipeline = new_pipeline(sales)
    new_deal(sales, pipeline, money("CHF", "10"), close=today())
    request = pb.GetForecastRequest(
        start_date=day(date(today().year - 1, 1, 1)),
        end_date=day(date(today().year + 1, 12, 31)),
        currency_code="EUR",
        filter=f'pipeline = "{pipeline.name}"',
    )
    error = rpc_error(lambda: forecasts.GetForecast(request))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "CHF" in str(error.details())
    request.currency_code = ""
    (line,) = forecasts.GetForecast(request).lines
    assert amount(line.pipeline_value) == ("CHF", Decimal(10))


@pytest.mark.parametrize(
    ("fields", "violations"),
    [
        ({}, {"start_date", "end_date"}),
        (
            {"start_date": date_pb2.Date(year=2026, month=2, day=30), "end_date": day(today())},
            {"start_date"},
        ),
        ({"start_date": day(date(2026, 3, 1)), "end_date": day(date(2026, 2, 1))}, {"end_date"}),
        ({"start_date": day(date(2020, 1, 1)), "end_date": day(date(2026, 1, 1))}, {"end_date"}),
        (
            {
                "start_date": day(date(2026, 1, 1)),
                "end_date": day(date(2026, 1, 1)),
                "period": 9,
                "group_by": 9,
                "currency_code": "eur",
                "filter": "colour = 'red'",
            },
            {"period", "group_by", "currency_code", "filter"},
        ),
    ],
)
def test_forecast_refuses_bad_requests(
    forecasts: ForecastServiceStub, fields: dict[str, object], violations: set[str]
) -> None:
    error = rpc_error(lambda: forecasts.GetForecast(pb.GetForecastRequest(**fields)))  # type: ignore[arg-type]
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == violations


# Exchange rates


def test_rates_are_created_updated_listed_and_deleted(forecasts: ForecastServiceStub) -> None:
    created = set_rate(forecasts, "GBP", "1.1700")
    assert (created.name, created.currency_code, created.rate) == (
        "exchangeRates/GBP",
        "GBP",
        "1.17",
    )
    assert created.base_currency_code == "EUR" and created.etag
    assert forecasts.GetExchangeRate(pb.GetExchangeRateRequest(name=created.name)) == created
    updated = forecasts.UpdateExchangeRate(
        pb.UpdateExchangeRateRequest(
            exchange_rate=rate_pb.ExchangeRate(name=created.name, rate="1.18", etag=created.etag),
            update_mask=FieldMask(paths=["rate"]),
        )
    )
    assert updated.rate == "1.18" and updated.etag != created.etag
    stale = rpc_error(
        lambda: forecasts.UpdateExchangeRate(
            pb.UpdateExchangeRateRequest(
                exchange_rate=rate_pb.ExchangeRate(name=created.name, rate="2", etag=created.etag)
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    listed = forecasts.ListExchangeRates(pb.ListExchangeRatesRequest(page_size=1000))
    codes = [rate.currency_code for rate in listed.exchange_rates]
    assert "GBP" in codes and codes == sorted(codes)
    stale_delete = rpc_error(
        lambda: forecasts.DeleteExchangeRate(
            pb.DeleteExchangeRateRequest(name=created.name, etag=created.etag)
        )
    )
    assert stale_delete.code() == grpc.StatusCode.ABORTED
    forecasts.DeleteExchangeRate(pb.DeleteExchangeRateRequest(name=created.name))
    gone = rpc_error(
        lambda: forecasts.GetExchangeRate(pb.GetExchangeRateRequest(name=created.name))
    )
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_rates_page_by_currency_code(forecasts: ForecastServiceStub) -> None:
    for currency in ("AUD", "CAD", "NZD"):
        set_rate(forecasts, currency, "0.6")
    seen: list[str] = []
    token = ""
    while True:
        page = forecasts.ListExchangeRates(
            pb.ListExchangeRatesRequest(page_size=1, page_token=token)
        )
        seen += [rate.currency_code for rate in page.exchange_rates]
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(seen) and {"AUD", "CAD", "NZD"} <= set(seen)


def test_updating_a_missing_rate_needs_allow_missing(forecasts: ForecastServiceStub) -> None:
    error = rpc_error(
        lambda: forecasts.UpdateExchangeRate(
            pb.UpdateExchangeRateRequest(
                exchange_rate=rate_pb.ExchangeRate(name="exchangeRates/SEK", rate="0.09")
            )
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    missing = rpc_error(
        lambda: forecasts.DeleteExchangeRate(pb.DeleteExchangeRateRequest(name="exchangeRates/SEK"))
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("rate", "mask", "violations"),
    [
        (rate_pb.ExchangeRate(name="exchangeRates/usd", rate="1"), [], {"exchange_rate.name"}),
        (rate_pb.ExchangeRate(name="exchangeRates/EUR", rate="1"), [], {"exchange_rate.name"}),
        (rate_pb.ExchangeRate(name="exchangeRates/USD"), [], {"exchange_rate.rate"}),
        (
            rate_pb.ExchangeRate(name="exchangeRates/USD", rate="0.1e-12"),
            [],
            {"exchange_rate.rate"},
        ),
        (rate_pb.ExchangeRate(name="exchangeRates/USD", rate="-2"), [], {"exchange_rate.rate"}),
        (
            rate_pb.ExchangeRate(name="exchangeRates/USD", rate="1"),
            ["currency_code"],
            {"update_mask"},
        ),
        (
            rate_pb.ExchangeRate(),
            ["nonsense"],
            {"exchange_rate.name", "exchange_rate.rate", "update_mask"},
        ),
    ],
)
def test_rate_updates_refuse_bad_input(
    forecasts: ForecastServiceStub,
    rate: rate_pb.ExchangeRate,
    mask: list[str],
    violations: set[str],
) -> None:
    request = pb.UpdateExchangeRateRequest(
        exchange_rate=rate, update_mask=FieldMask(paths=mask), allow_missing=True
    )
    error = rpc_error(lambda: forecasts.UpdateExchangeRate(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == violations


def test_rate_reads_refuse_bad_names_and_tokens(forecasts: ForecastServiceStub) -> None:
    calls = [
        lambda: forecasts.GetExchangeRate(pb.GetExchangeRateRequest(name="")),
        lambda: forecasts.GetExchangeRate(pb.GetExchangeRateRequest(name="rates/USD")),
        lambda: forecasts.DeleteExchangeRate(pb.DeleteExchangeRateRequest(name="exchangeRates/U")),
    ]
    for call in calls:
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(error)) == {"name"}
    for request in (
        pb.ListExchangeRatesRequest(page_size=-1),
        pb.ListExchangeRatesRequest(page_token="garbage"),
    ):
        error = rpc_error(lambda request=request: forecasts.ListExchangeRates(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


# The command line


def test_crm_sales_forecast_prints_a_table(
    sales_suite: Suite, book: dict[str, object], forecasts: ForecastServiceStub
) -> None:
    pipeline = book["pipeline"]
    assert isinstance(pipeline, pipe_pb.Pipeline)
    year = int(str(book["next_year"]))
    command = [
        sys.executable,
        "-m",
        "crm_cli.main",
        "sales",
        "forecast",
        "--period",
        "quarter",
        "--by",
        "owner",
        "--currency",
        "eur",
        "--from",
        f"{year}-01-01",
        "--filter",
        f'pipeline = "{pipeline.name}"',
    ]
    env = {**os.environ, "CRM_SALES_TARGET": sales_suite.processes["sales"].address}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == [
        "PERIOD", "OWNER", "CURRENCY", "DEALS", "WEIGHTED", "PIPELINE", "BEST", "CASE", "COMMIT",
        "WON",
    ]  # fmt: skip
    assert [row.split() for row in rows] == [
        [f"{year}-Q1", "ada", "EUR", "1", "100.05", "1,000.50", "0.00", "0.00", "0.00"],
        [f"{year}-Q1", "bob", "EUR", "1", "90.00", "180.00", "180.00", "0.00", "0.00"],
        [f"{year}-Q2", "ada", "EUR", "1", "270.00", "300.00", "300.00", "300.00", "0.00"],
    ]
    missing = subprocess.run(
        [*command[:9], "--currency", "JPY"], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "JPY" in missing.stderr
