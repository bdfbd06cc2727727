"""Ticket reports: the days a report covers in its time zone, and figures from counts."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_support.domain.reports import (
    MAX_BREAKDOWN,
    Grouping,
    Middle,
    OffsetSpan,
    ReportCounts,
    SlaOutcome,
    build_report,
    report_period,
)
from crm_support.domain.sla_state import SlaMetric
from crm_support.domain.tickets import SatisfactionScore, TicketStatus

H = timedelta(hours=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def violations(error: pytest.ExceptionInfo[InvalidArgument]) -> dict[str, str]:
    return {v.field: v.description for v in error.value.violations}


# --- The period ------------------------------------------------------------------


def test_utc_days_run_midnight_to_midnight() -> None:
    period = report_period((2025, 1, 30), (2025, 2, 2), "")
    assert period.time_zone == "UTC"
    assert period.days == [date(2025, 1, 30), date(2025, 1, 31), date(2025, 2, 1), date(2025, 2, 2)]
    assert (period.start, period.end) == (utc(2025, 1, 30), utc(2025, 2, 3))
    assert period.offsets == (OffsetSpan(utc(2025, 1, 30), timedelta(0)),)


def test_a_range_across_spring_forward_has_a_23_hour_day() -> None:
    period = report_period((2025, 3, 29), (2025, 4, 1), "Europe/Berlin")
    assert (period.start, period.end) == (utc(2025, 3, 28, 23), utc(2025, 4, 1, 22))
    assert period.offsets == (
        OffsetSpan(utc(2025, 3, 28, 23), H),
        OffsetSpan(utc(2025, 3, 30, 1), 2 * H),
    )


def test_fall_back_makes_a_25_hour_day() -> None:
    period = report_period((2025, 10, 26), (2025, 10, 26), "Europe/London")
    assert period.end - period.start == 25 * H
    assert period.offsets == (
        OffsetSpan(utc(2025, 10, 25, 23), H),
        OffsetSpan(utc(2025, 10, 26, 1), timedelta(0)),
    )


def test_a_day_whose_midnight_is_skipped_starts_when_the_clocks_jump() -> None:
    # Santiago went from 00:00 -04 straight to 01:00 -03 on 2024-09-08.
    period = report_period((2024, 9, 8), (2024, 9, 8), "America/Santiago")
    assert period.start == utc(2024, 9, 8, 4)
    assert period.end == utc(2024, 9, 9, 3)
    assert [span.offset for span in period.offsets] == [-3 * H]


def test_quarter_hour_offsets() -> None:
    period = report_period((2025, 6, 1), (2025, 6, 1), "Asia/Kathmandu")
    assert period.start == utc(2025, 5, 31, 18, 15)
    assert period.offsets == (OffsetSpan(utc(2025, 5, 31, 18, 15), timedelta(hours=5, minutes=45)),)


def test_a_year_in_a_dst_zone_has_three_spans() -> None:
    period = report_period((2024, 1, 1), (2024, 12, 31), "America/New_York")
    assert len(period.days) == 366
    assert [(span.start, span.offset) for span in period.offsets] == [
        (utc(2024, 1, 1, 5), -5 * H),
        (utc(2024, 3, 10, 7), -4 * H),
        (utc(2024, 11, 3, 6), -5 * H),
    ]


@pytest.mark.parametrize(
    ("first", "last", "zone", "field", "says"),
    [
        ((0, 0, 0), (2025, 1, 1), "", "start_date", "is required"),
        ((2025, 1, 1), (0, 0, 0), "", "end_date", "is required"),
        ((2025, 2, 29), (2025, 3, 1), "", "start_date", "2025-02-29 is not a calendar date"),
        ((2025, 1, 1), (2025, 4, 31), "", "end_date", "2025-04-31 is not a calendar date"),
        ((2025, 1, 1), (0, 1, 1), "", "end_date", "not a calendar date"),
        ((1969, 12, 31), (1970, 1, 1), "", "start_date", "between 1970-01-01 and 9998-12-31"),
        ((9998, 12, 31), (9999, 1, 1), "", "end_date", "between 1970-01-01 and 9998-12-31"),
        ((2025, 1, 2), (2025, 1, 1), "", "end_date", "must not be before start_date"),
        ((2024, 1, 1), (2025, 1, 1), "", "end_date", "at most 366 days"),
        ((2025, 1, 1), (2025, 1, 1), "Berlin", "time_zone", "IANA time zone"),
        ((2025, 1, 1), (2025, 1, 1), "Factory", "time_zone", "IANA time zone"),
        ((2025, 1, 1), (2025, 1, 1), "/etc/localtime", "time_zone", "IANA time zone"),
    ],
)
def test_bad_periods_name_the_field(
    first: tuple[int, int, int], last: tuple[int, int, int], zone: str, field: str, says: str
) -> None:
    with pytest.raises(InvalidArgument) as error:
        report_period(first, last, zone)
    assert list(violations(error)) == [field]
    assert says in violations(error)[field]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as error:
        report_period((2025, 2, 30), (0, 0, 0), "Nowhere/Special")
    assert set(violations(error)) == {"start_date", "end_date", "time_zone"}


def test_the_range_limits_are_inclusive() -> None:
    assert len(report_period((2024, 1, 1), (2024, 12, 31), "").days) == 366
    assert report_period((1970, 1, 1), (1970, 1, 1), "").start == utc(1970, 1, 1)
    assert report_period((9998, 12, 31), (9998, 12, 31), "").end == utc(9999, 1, 1)


# --- The figures -----------------------------------------------------------------

PERIOD = report_period((2025, 3, 1), (2025, 3, 3), "UTC")
D1, D2, D3 = PERIOD.days
NO_MIDDLE = Middle(0, None)


def counts(**fields: object) -> ReportCounts:
    empty: dict[str, object] = {
        "created": Counter(),
        "solved": Counter(),
        "backlog": Counter(),
        "sla": Counter(),
        "satisfaction": Counter(),
        "first_response": {},
        "resolution": {},
        "total_first_response": NO_MIDDLE,
        "total_resolution": NO_MIDDLE,
    }
    return ReportCounts(**{**empty, **fields})  # type: ignore[arg-type]


def test_days_and_statuses_are_zero_filled() -> None:
    report = build_report(PERIOD, Grouping.NONE, counts(created=Counter({("", D2): 4})))
    total = report.total
    assert [(d.day, d.created, d.solved) for d in total.days] == [
        (D1, 0, 0),
        (D2, 4, 0),
        (D3, 0, 0),
    ]
    assert total.backlog == {
        TicketStatus.NEW: 0,
        TicketStatus.OPEN: 0,
        TicketStatus.PENDING: 0,
        TicketStatus.ON_HOLD: 0,
    }
    assert list(total.sla) == list(SlaMetric)
    assert total.sla_total.percent is None and total.satisfaction.good_percent is None
    assert total.first_response.median is None and report.breakdown == ()


def test_totals_add_up_the_keys_and_the_breakdown_is_ordered() -> None:
    raw = counts(
        created=Counter({("agents/b", D1): 2, ("", D1): 1, ("agents/a", D3): 5}),
        solved=Counter({("agents/a", D1): 1}),
        backlog=Counter({("agents/b", TicketStatus.OPEN): 3, ("", TicketStatus.NEW): 2}),
        sla=Counter(
            {
                ("agents/a", SlaOutcome(SlaMetric.FIRST_RESPONSE, True)): 3,
                ("agents/b", SlaOutcome(SlaMetric.FIRST_RESPONSE, False)): 1,
                ("agents/b", SlaOutcome(SlaMetric.RESOLUTION, True)): 4,
            }
        ),
        # Ratings may name an agent who has no tickets now.
        satisfaction=Counter(
            {("agents/c", SatisfactionScore.GOOD): 3, ("agents/a", SatisfactionScore.BAD): 1}
        ),
        first_response={"agents/a": Middle(2, 1_500_000.5)},
        total_first_response=Middle(7, 2_000_000.0),
    )
    report = build_report(PERIOD, Grouping.AGENT, raw)
    assert [key for key, _ in report.breakdown] == ["agents/a", "agents/b", "agents/c", ""]
    total = report.total
    assert (total.created, total.solved, total.backlog_total) == (8, 1, 5)
    assert total.backlog[TicketStatus.OPEN] == 3 and total.backlog[TicketStatus.NEW] == 2
    assert total.sla[SlaMetric.FIRST_RESPONSE].percent == 75.0
    assert (total.sla_total.met, total.sla_total.breached, total.sla_total.percent) == (7, 1, 87.5)
    assert (total.satisfaction.good, total.satisfaction.bad) == (3, 1)
    assert total.satisfaction.good_percent == 75.0
    # Totals' medians come from their own query, not from the keys'.
    assert (total.first_response.count, total.first_response.median) == (7, timedelta(seconds=2))

    figures = dict(report.breakdown)
    a, b, c, nobody = figures["agents/a"], figures["agents/b"], figures["agents/c"], figures[""]
    assert [d.created for d in a.days] == [0, 0, 5] and a.solved == 1
    # 1,500,000.5 microseconds round half to even.
    assert a.first_response.median == timedelta(microseconds=1_500_000)
    assert b.first_response.count == 0 and b.first_response.median is None
    assert b.sla[SlaMetric.RESOLUTION].percent == 100.0 and b.sla_total.percent == 80.0
    assert (c.created, c.satisfaction.good_percent) == (0, 100.0)
    assert (nobody.created, nobody.backlog_total) == (1, 2)


def test_medians_round_to_the_nearest_microsecond() -> None:
    raw = counts(total_first_response=Middle(2, 2.5), total_resolution=Middle(3, 3_600_000_000.7))
    total = build_report(PERIOD, Grouping.NONE, raw).total
    assert total.first_response.median == timedelta(microseconds=2)
    assert total.resolution.median == H + timedelta(microseconds=1)


def test_too_many_rows_for_one_breakdown() -> None:
    keys = [f"groups/g{n}" for n in range(MAX_BREAKDOWN)]
    at_limit = counts(created=Counter({(key, D1): 1 for key in keys}))
    assert len(build_report(PERIOD, Grouping.GROUP, at_limit).breakdown) == MAX_BREAKDOWN
    over = counts(created=Counter({(key, D1): 1 for key in [*keys, ""]}))
    with pytest.raises(FailedPrecondition, match="501 groups"):
        build_report(PERIOD, Grouping.GROUP, over)
