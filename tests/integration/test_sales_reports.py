"""Sales reports through the sales service, on SQLite and PostgreSQL: the funnel,
time in stage, win rates and win/loss reasons, with exact figures, and bad
input for every report RPC."""

from datetime import date
from decimal import Decimal

import grpc
import pytest
from google.type import date_pb2

from crm.sales.v1 import close_reason_pb2 as reason_pb
from crm.sales.v1 import forecast_service_pb2 as pb
from crm.sales.v1 import opportunity_pb2 as opp_pb
from crm.sales.v1 import pipeline_pb2 as pipe_pb
from crm.sales.v1.forecast_service_pb2_grpc import ForecastServiceStub
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from tests.integration.harness import Suite, field_violations, rpc_error
from tests.integration.test_sales_forecast import (
    amounts,
    day,
    lose,
    money,
    new_deal,
    new_pipeline,
    new_reason,
    set_rate,
    today,
    win,
)


@pytest.fixture(scope="module")
def sales(sales_suite: Suite) -> SalesServiceStub:
    return sales_suite.stub("sales", SalesServiceStub)


@pytest.fixture(scope="module")
def forecasts(sales_suite: Suite) -> ForecastServiceStub:
    return sales_suite.stub("sales", ForecastServiceStub)


@pytest.fixture(scope="module")
def reasons(sales: SalesServiceStub) -> dict[str, reason_pb.CloseReason]:
    return {
        "product": new_reason(sales, reason_pb.CLOSE_REASON_KIND_WON, "Best product"),
        "price": new_reason(sales, reason_pb.CLOSE_REASON_KIND_LOST, "Price"),
        "timing": new_reason(sales, reason_pb.CLOSE_REASON_KIND_LOST, "Timing"),
    }


@pytest.fixture(scope="module")
def pipeline(
    sales: SalesServiceStub,
    forecasts: ForecastServiceStub,
    reasons: dict[str, reason_pb.CloseReason],
) -> pipe_pb.Pipeline:
    """Six deals: two still in lead, one in demo, one won from deal (skipping
    demo), two lost (one in demo, one in lead)."""
    pipeline = new_pipeline(sales)
    new_deal(sales, pipeline, money("EUR", "100"))
    new_deal(sales, pipeline, money("EUR", "50.25"), owner="bob")
    new_deal(sales, pipeline, money("USD", "200"), path=("lead", "demo"))
    won = new_deal(sales, pipeline, money("EUR", "1000"), path=("lead", "deal"))
    win(sales, won, reasons["product"])
    lost_in_demo = new_deal(
        sales, pipeline, money("EUR", "300"), owner="bob", path=("lead", "demo")
    )
    lose(sales, lost_in_demo, reasons["price"])
    lost_in_lead = new_deal(sales, pipeline, money("USD", "10"), owner="bob")
    lose(sales, lost_in_lead, reasons["price"])
    set_rate(forecasts, "USD", "0.9")
    return pipeline


def these_years() -> tuple[date_pb2.Date, date_pb2.Date]:
    """Last year to next: the deals' days, even when the tests run across midnight."""
    year = today().year
    return day(date(year - 1, 1, 1)), day(date(year + 1, 12, 31))


# Funnel


def test_funnel_counts_reached_and_current_deals_per_stage(
    forecasts: ForecastServiceStub, pipeline: pipe_pb.Pipeline
) -> None:
    report = forecasts.GetFunnelReport(pb.GetFunnelReportRequest(pipeline=pipeline.name))
    lead, demo, deal = report.stages
    assert [s.stage_id for s in report.stages] == ["lead", "demo", "deal"]
    assert (lead.reached_count, demo.reached_count, deal.reached_count) == (6, 3, 1)
    assert amounts(lead.reached_value) == {"EUR": Decimal("1450.25"), "USD": Decimal(210)}
    assert amounts(demo.reached_value) == {"EUR": Decimal(1300), "USD": Decimal(200)}
    assert amounts(deal.reached_value) == {"EUR": Decimal(1000)}
    assert lead.next_stage_conversion_percent == 50.0
    assert demo.next_stage_conversion_percent == pytest.approx(100 / 3)
    assert not deal.HasField("next_stage_conversion_percent")
    assert (lead.current_count, demo.current_count, deal.current_count) == (2, 1, 0)
    assert amounts(lead.current_value) == {"EUR": Decimal("150.25")}
    assert (report.won_count, report.lost_count) == (1, 2)
    assert amounts(report.won_value) == {"EUR": Decimal(1000)}


def test_funnel_converted_and_limited_to_deals_created_in_a_range(
    forecasts: ForecastServiceStub, pipeline: pipe_pb.Pipeline
) -> None:
    first, last = these_years()
    report = forecasts.GetFunnelReport(
        pb.GetFunnelReportRequest(
            pipeline=pipeline.name, start_date=first, end_date=last, currency_code="EUR"
        )
    )
    assert report.currency_code == "EUR"
    assert amounts(report.stages[0].reached_value) == {"EUR": Decimal("1639.25")}
    last_year = forecasts.GetFunnelReport(
        pb.GetFunnelReportRequest(
            pipeline=pipeline.name,
            start_date=date_pb2.Date(year=first.year - 3, month=1, day=1),
            end_date=date_pb2.Date(year=first.year - 3, month=12, day=31),
        )
    )
    assert [s.reached_count for s in last_year.stages] == [0, 0, 0]
    assert last_year.stages[0].reached_value == []


# Time in stage


def test_stage_durations_measure_the_visits_that_ended(
    forecasts: ForecastServiceStub, pipeline: pipe_pb.Pipeline
) -> None:
    report = forecasts.GetStageDurationReport(
        pb.GetStageDurationReportRequest(pipeline=pipeline.name)
    )
    lead, demo, deal = report.stages
    # Left lead: the deal moved to demo, the one moved to deal, the one lost
    # in demo, the one lost in lead. Left demo: the one lost there. Left
    # deal: the one won.
    assert (lead.visit_count, demo.visit_count, deal.visit_count) == (4, 1, 1)
    for stage in (lead, demo, deal):
        assert stage.HasField("mean") and stage.HasField("median")
        assert stage.mean.ToTimedelta().total_seconds() >= 0
    assert demo.mean == demo.median


# Win rate


def test_win_rate_and_average_deal_size_per_owner(
    forecasts: ForecastServiceStub, pipeline: pipe_pb.Pipeline
) -> None:
    first, last = these_years()
    report = forecasts.GetWinRateReport(
        pb.GetWinRateReportRequest(
            period=pb.REPORT_PERIOD_QUARTER,
            start_date=first,
            end_date=last,
            group_by=pb.WIN_RATE_GROUPING_OWNER,
            filter=f'pipeline = "{pipeline.name}"',
        )
    )
    ada, bob = report.lines
    assert (ada.owner, ada.won_count, ada.lost_count, ada.win_rate_percent) == ("ada", 1, 0, 100)
    assert amounts(ada.won_value) == {"EUR": Decimal(1000)}
    assert amounts(ada.average_won_value) == {"EUR": Decimal(1000)}
    assert (bob.owner, bob.won_count, bob.lost_count, bob.win_rate_percent) == ("bob", 0, 2, 0)
    assert list(bob.won_value) == []
    assert ada.period_start_date == bob.period_start_date
    assert (ada.period_start_date.month, ada.period_start_date.day) in {
        (1, 1),
        (4, 1),
        (7, 1),
        (10, 1),
    }
    everyone = forecasts.GetWinRateReport(
        pb.GetWinRateReportRequest(
            start_date=first,
            end_date=last,
            currency_code="USD",
            filter=f'pipeline = "{pipeline.name}"',
        )
    )
    (line,) = everyone.lines
    assert line.win_rate_percent == pytest.approx(100 / 3)
    assert amounts(line.won_value) == {"USD": Decimal("1111.111111111")}


# Win and loss reasons


def test_reasons_count_and_sum_closed_deals(
    forecasts: ForecastServiceStub,
    pipeline: pipe_pb.Pipeline,
    reasons: dict[str, reason_pb.CloseReason],
) -> None:
    first, last = these_years()
    report = forecasts.GetWinLossReasonsReport(
        pb.GetWinLossReasonsReportRequest(
            start_date=first, end_date=last, filter=f'pipeline = "{pipeline.name}"'
        )
    )
    assert [(r.close_reason, r.display_name, r.outcome, r.count) for r in report.reasons] == [
        (reasons["product"].name, "Best product", opp_pb.OPPORTUNITY_STATE_WON, 1),
        (reasons["price"].name, "Price", opp_pb.OPPORTUNITY_STATE_LOST, 2),
    ]
    assert amounts(report.reasons[1].value) == {"EUR": Decimal(300), "USD": Decimal(10)}
    converted = forecasts.GetWinLossReasonsReport(
        pb.GetWinLossReasonsReportRequest(
            start_date=first,
            end_date=last,
            currency_code="EUR",
            filter=f'pipeline = "{pipeline.name}"',
        )
    )
    assert amounts(converted.reasons[1].value) == {"EUR": Decimal(309)}


# Bad input


def test_pipeline_reports_need_an_existing_pipeline(forecasts: ForecastServiceStub) -> None:
    for call in (
        lambda name: forecasts.GetFunnelReport(pb.GetFunnelReportRequest(pipeline=name)),
        lambda name: forecasts.GetStageDurationReport(
            pb.GetStageDurationReportRequest(pipeline=name)
        ),
    ):
        for name in ("", "stages/1", "pipelines/a/b"):
            error = rpc_error(lambda call=call, name=name: call(name))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert set(field_violations(error)) == {"pipeline"}
        missing = rpc_error(lambda call=call: call("pipelines/nope"))
        assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_funnel_refuses_half_a_range_and_bad_currencies(
    forecasts: ForecastServiceStub, pipeline: pipe_pb.Pipeline
) -> None:
    request = pb.GetFunnelReportRequest(
        pipeline=pipeline.name, start_date=day(today()), currency_code="EURO"
    )
    error = rpc_error(lambda: forecasts.GetFunnelReport(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"end_date", "currency_code"}
    missing_rate = rpc_error(
        lambda: forecasts.GetFunnelReport(
            pb.GetFunnelReportRequest(pipeline=pipeline.name, currency_code="JPY")
        )
    )
    assert missing_rate.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_win_rate_and_reasons_refuse_bad_requests(forecasts: ForecastServiceStub) -> None:
    error = rpc_error(
        lambda: forecasts.GetWinRateReport(
            pb.GetWinRateReportRequest(period=7, group_by=7, currency_code="1", filter="(")
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "period",
        "start_date",
        "end_date",
        "group_by",
        "currency_code",
        "filter",
    }
    first, _ = these_years()
    error = rpc_error(
        lambda: forecasts.GetWinLossReasonsReport(
            pb.GetWinLossReasonsReportRequest(
                start_date=first,
                end_date=date_pb2.Date(year=first.year, month=13, day=1),
                filter="owner >",
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"end_date", "filter"}
