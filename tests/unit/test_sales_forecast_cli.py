"""`crm sales forecast`: the request its options make and the table it prints."""

import argparse
from datetime import date

import pytest
from google.type import date_pb2, money_pb2

from crm.sales.v1 import forecast_service_pb2 as pb
from crm_cli.sales_forecast import forecast_request, forecast_table


def options(**given: object) -> argparse.Namespace:
    defaults = {
        "period": "month",
        "by": "none",
        "currency": "",
        "start": None,
        "end": None,
        "filter": "",
    }
    return argparse.Namespace(**{**defaults, **given})


@pytest.mark.parametrize(
    ("given", "first", "last"),
    [
        ({}, (2026, 11, 1), (2027, 10, 31)),
        ({"period": "quarter"}, (2026, 10, 1), (2027, 9, 30)),
        ({"start": date(2026, 1, 31)}, (2026, 1, 31), (2026, 12, 31)),
        ({"start": date(2026, 1, 31), "end": date(2026, 2, 1)}, (2026, 1, 31), (2026, 2, 1)),
    ],
)
def test_the_default_range_is_a_year_of_whole_periods(
    given: dict[str, object], first: tuple[int, int, int], last: tuple[int, int, int]
) -> None:
    request = forecast_request(options(**given), date(2026, 11, 24))
    assert (request.start_date.year, request.start_date.month, request.start_date.day) == first
    assert (request.end_date.year, request.end_date.month, request.end_date.day) == last


def test_options_map_onto_the_request() -> None:
    request = forecast_request(
        options(period="quarter", by="pipeline", currency="usd", filter='owner = "ada"'),
        date(2026, 5, 5),
    )
    assert request.period == pb.REPORT_PERIOD_QUARTER
    assert request.group_by == pb.FORECAST_GROUPING_PIPELINE
    assert (request.currency_code, request.filter) == ("USD", 'owner = "ada"')


def test_the_table_has_a_row_per_line_with_amounts_to_the_cent() -> None:
    def eur(units: int, nanos: int = 0) -> money_pb2.Money:
        return money_pb2.Money(currency_code="EUR", units=units, nanos=nanos)

    forecast = pb.Forecast(
        period=pb.REPORT_PERIOD_QUARTER,
        group_by=pb.FORECAST_GROUPING_PIPELINE,
        lines=[
            pb.ForecastLine(
                period_start_date=date_pb2.Date(year=2026, month=4, day=1),
                pipeline="pipelines/new",
                weighted_value=eur(1234, 565_000_000),
                pipeline_value=eur(2000),
                best_case_value=eur(0),
                commit_value=eur(0),
                closed_value=eur(10),
                open_count=2,
                won_count=1,
            )
        ],
    )
    header, row = forecast_table(forecast).splitlines()
    assert header.split()[:3] == ["PERIOD", "PIPELINE", "CURRENCY"]
    assert row.split() == [
        "2026-Q2",
        "new",
        "EUR",
        "3",
        "1,234.56",
        "2,000.00",
        "0.00",
        "0.00",
        "10.00",
    ]
    assert forecast_table(pb.Forecast()) == "No open or won deals in that range."
