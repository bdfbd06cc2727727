"""Business-hours arithmetic: the ground the helpdesk's SLA clocks stand on.

Dates are in 2026. Weekdays used below: Mon 2 Mar, Fri 6 Mar, Mon 9 Mar, Thu 24 Dec.
DST changes: Europe/Berlin Sun 29 Mar (02:00 -> 03:00) and Sun 25 Oct (03:00 -> 02:00);
America/New_York Sun 8 Mar (02:00 -> 03:00) and Sun 1 Nov (02:00 -> 01:00).
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crm_common.errors import InvalidArgument
from crm_support.domain.business_hours import (
    END_OF_DAY,
    BusinessCalendar,
    Holiday,
    WorkingPeriod,
    add_business_time,
    business_time_between,
    due_with_pauses,
    elapsed_excluding,
    holidays_for,
    merge_intervals,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")

SUNDAY = 6
EVERY_DAY = range(7)


def hours(start: str, end: str) -> WorkingPeriod:
    """`hours("09:00", "17:00")`; "24:00" is END_OF_DAY."""
    return WorkingPeriod(time.fromisoformat(start), _end(end))


def _end(value: str) -> time:
    return END_OF_DAY if value == "24:00" else time.fromisoformat(value)


def h(value: float) -> timedelta:
    return timedelta(hours=value)


def local(zone: ZoneInfo, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0):
    return datetime(2026, month, day, hour, minute, tzinfo=zone, fold=fold)


def office(zone: str = "Europe/Berlin", holidays: frozenset[date] = frozenset()):
    """Monday to Friday 09:00-17:00."""
    return BusinessCalendar.weekly(zone, [hours("09:00", "17:00")], holidays=holidays)


def with_lunch(zone: str = "Europe/Berlin") -> BusinessCalendar:
    """Monday to Friday 09:00-12:00 and 13:00-17:00."""
    return BusinessCalendar.weekly(zone, [hours("09:00", "12:00"), hours("13:00", "17:00")])


def sunday_only(zone: str, *periods: WorkingPeriod) -> BusinessCalendar:
    """Work on Sundays alone, the day both DST changes fall on in Europe and the US."""
    return BusinessCalendar(zone, {SUNDAY: periods})


def due(calendar: BusinessCalendar, start: datetime, work: timedelta) -> datetime:
    """The due time, read in the start's zone for legible assertions."""
    result = add_business_time(calendar, start, work)
    assert result.tzinfo is UTC
    return result.astimezone(start.tzinfo)


def violations(**kwargs: object) -> dict[str, str]:
    arguments = {"time_zone": "UTC", "week": {0: (hours("09:00", "17:00"),)}, **kwargs}
    with pytest.raises(InvalidArgument) as error:
        BusinessCalendar(**arguments)  # type: ignore[arg-type]
    return {v.field: v.description for v in error.value.violations}


# --- Adding working time -------------------------------------------------------


def test_within_one_day() -> None:
    assert due(office(), local(BERLIN, 3, 2, 10), h(3)) == local(BERLIN, 3, 2, 13)


def test_rolls_over_to_the_next_morning() -> None:
    assert due(office(), local(BERLIN, 3, 2, 15), h(4)) == local(BERLIN, 3, 3, 11)


def test_skips_the_weekend() -> None:
    assert due(office(), local(BERLIN, 3, 6, 16), h(2)) == local(BERLIN, 3, 9, 10)


def test_skips_the_lunch_break() -> None:
    assert due(with_lunch(), local(BERLIN, 3, 2, 11), h(2)) == local(BERLIN, 3, 2, 14)


def test_due_at_the_end_of_a_period_is_that_end_not_the_next_start() -> None:
    assert due(with_lunch(), local(BERLIN, 3, 2, 11), h(1)) == local(BERLIN, 3, 2, 12)
    assert due(office(), local(BERLIN, 3, 2, 15), h(2)) == local(BERLIN, 3, 2, 17)
    assert due(office(), local(BERLIN, 3, 6, 9), h(8)) == local(BERLIN, 3, 6, 17)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(local(BERLIN, 3, 2, 7), local(BERLIN, 3, 2, 10), id="before hours"),
        pytest.param(local(BERLIN, 3, 2, 12, 30), local(BERLIN, 3, 2, 14), id="at lunch"),
        pytest.param(local(BERLIN, 3, 2, 18), local(BERLIN, 3, 3, 10), id="after hours"),
        pytest.param(local(BERLIN, 3, 7, 11), local(BERLIN, 3, 9, 10), id="on saturday"),
        pytest.param(local(BERLIN, 3, 2, 9), local(BERLIN, 3, 2, 10), id="at opening"),
        pytest.param(local(BERLIN, 3, 2, 17), local(BERLIN, 3, 3, 10), id="at closing"),
    ],
)
def test_a_start_outside_hours_counts_from_the_next_period(
    start: datetime, expected: datetime
) -> None:
    assert due(with_lunch(), start, h(1)) == expected


def test_zero_duration_is_due_at_once_even_outside_hours() -> None:
    saturday = local(BERLIN, 3, 7, 11)
    assert add_business_time(office(), saturday, timedelta(0)) == saturday


def test_holidays_are_skipped() -> None:
    calendar = office(holidays=frozenset({date(2026, 3, 4)}))  # a Wednesday
    assert due(calendar, local(BERLIN, 3, 3, 16), h(2)) == local(BERLIN, 3, 5, 10)


def test_a_start_on_a_holiday_counts_from_the_next_working_day() -> None:
    calendar = office(holidays=frozenset({date(2026, 3, 6)}))  # Friday, before the weekend
    assert due(calendar, local(BERLIN, 3, 6, 11), h(1)) == local(BERLIN, 3, 9, 10)


def test_multi_week_durations_land_on_the_same_clock_time() -> None:
    five_weeks = h(5 * 40)
    assert due(office(), local(BERLIN, 3, 2, 10), five_weeks) == local(BERLIN, 4, 6, 10)
    # A holiday inside the span pushes the due time by one working day.
    calendar = office(holidays=frozenset({date(2026, 3, 18)}))
    assert due(calendar, local(BERLIN, 3, 2, 10), five_weeks) == local(BERLIN, 4, 7, 10)


def test_a_year_of_working_time_is_exact_and_quick() -> None:
    # 52 weeks from a Monday in March cross both Berlin DST changes; wall-clock hours hold.
    start = local(BERLIN, 3, 2, 10)
    assert due(office(), start, h(52 * 40)) == datetime(2027, 3, 1, 10, tzinfo=BERLIN)


def test_negative_duration_and_naive_start_are_bugs() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_time(office(), local(BERLIN, 3, 2), -h(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(office(), datetime(2026, 3, 2, 10), h(1))


# --- Time zones ------------------------------------------------------------------


def test_tokyo_calendar_with_a_utc_start() -> None:
    calendar = BusinessCalendar.weekly("Asia/Tokyo", [hours("09:00", "18:00")])
    start = datetime(2026, 3, 2, 23, tzinfo=UTC)  # Tuesday 08:00 in Tokyo
    assert add_business_time(calendar, start, h(1)) == datetime(2026, 3, 3, 1, tzinfo=UTC)
    assert due(calendar, start, h(1)) == datetime(2026, 3, 3, 1, tzinfo=UTC)
    # Friday 17:00 in Tokyo is 08:00 UTC; one hour left that day, the next on Monday.
    friday = datetime(2026, 3, 6, 8, tzinfo=UTC)
    assert add_business_time(calendar, friday, h(2)).astimezone(TOKYO) == local(TOKYO, 3, 9, 10)


def test_new_york_day_spans_midnight_utc() -> None:
    calendar = office("America/New_York")
    start = datetime(2026, 3, 2, 21, tzinfo=UTC)  # Monday 16:00 EST
    assert add_business_time(calendar, start, h(3)) == datetime(2026, 3, 3, 16, tzinfo=UTC)
    # Monday 20:00 UTC to Tuesday 15:00 UTC: 15:00-17:00 and 09:00-10:00 New York time.
    between = business_time_between(calendar, start - h(1), datetime(2026, 3, 3, 15, tzinfo=UTC))
    assert between == h(3)


def test_the_start_may_be_in_any_zone() -> None:
    in_tokyo = local(BERLIN, 3, 2, 10).astimezone(TOKYO)
    assert due(office(), in_tokyo, h(3)) == local(BERLIN, 3, 2, 13)


# --- Daylight saving -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "month", "day"),
    [
        pytest.param("Europe/Berlin", 3, 29, id="berlin spring forward"),
        pytest.param("Europe/Berlin", 10, 25, id="berlin fall back"),
        pytest.param("America/New_York", 3, 8, id="new york spring forward"),
        pytest.param("America/New_York", 11, 1, id="new york fall back"),
    ],
)
def test_a_day_shift_is_eight_hours_on_a_change_day(zone: str, month: int, day: int) -> None:
    calendar = sunday_only(zone, hours("09:00", "17:00"))
    tz = ZoneInfo(zone)
    whole_day = business_time_between(calendar, local(tz, month, day), local(tz, month, day + 1))
    assert whole_day == h(8)
    assert due(calendar, local(tz, month, day, 7), h(8)) == local(tz, month, day, 17)


@pytest.mark.parametrize(
    ("zone", "month", "day", "real_hours"),
    [
        pytest.param("Europe/Berlin", 3, 29, 5, id="berlin spring forward"),
        pytest.param("Europe/Berlin", 10, 25, 7, id="berlin fall back"),
        pytest.param("America/New_York", 3, 8, 5, id="new york spring forward"),
        pytest.param("America/New_York", 11, 1, 7, id="new york fall back"),
    ],
)
def test_a_night_shift_holding_the_change_counts_real_time(
    zone: str, month: int, day: int, real_hours: int
) -> None:
    calendar = sunday_only(zone, hours("00:00", "06:00"))
    tz = ZoneInfo(zone)
    night = business_time_between(calendar, local(tz, month, day), local(tz, month, day + 1))
    assert night == h(real_hours)
    assert due(calendar, local(tz, month, day), h(real_hours)) == local(tz, month, day, 6)


def test_spring_forward_due_times_skip_the_missing_hour() -> None:
    calendar = sunday_only("Europe/Berlin", hours("00:00", "06:00"))
    # 00:00 CET is 23:00 UTC; four real hours later the clocks read 05:00 CEST.
    assert due(calendar, local(BERLIN, 3, 29), h(4)) == local(BERLIN, 3, 29, 5)
    assert due(calendar, local(BERLIN, 3, 29), h(2)) == local(BERLIN, 3, 29, 3)


def test_fall_back_due_times_pass_the_repeated_hour_twice() -> None:
    calendar = sunday_only("Europe/Berlin", hours("00:00", "06:00"))
    start = local(BERLIN, 10, 25)
    first_half_past_two = due(calendar, start, h(2.5))
    second_half_past_two = due(calendar, start, h(3.5))
    assert first_half_past_two.utcoffset() == h(2)  # CEST
    assert second_half_past_two.utcoffset() == h(1)  # CET
    assert first_half_past_two.replace(tzinfo=None) == datetime(2026, 10, 25, 2, 30)
    assert second_half_past_two.replace(tzinfo=None) == datetime(2026, 10, 25, 2, 30)
    assert due(calendar, start, h(4)) == local(BERLIN, 10, 25, 3)


def test_a_start_inside_the_repeated_hour_uses_its_fold() -> None:
    calendar = sunday_only("Europe/Berlin", hours("00:00", "06:00"))
    end = local(BERLIN, 10, 25, 6)
    first = local(BERLIN, 10, 25, 2, 30, fold=0)
    second = local(BERLIN, 10, 25, 2, 30, fold=1)
    assert business_time_between(calendar, first, end) == h(4.5)
    assert business_time_between(calendar, second, end) == h(3.5)


@pytest.mark.parametrize(
    ("period", "real_hours"),
    [
        # Clocks jump from 02:00 to 03:00: a boundary in between is the moment they jump.
        pytest.param(hours("02:30", "06:00"), 3, id="starts in the gap"),
        pytest.param(hours("00:00", "02:30"), 2, id="ends in the gap"),
        pytest.param(hours("02:00", "03:00"), 0, id="is the gap"),
    ],
)
def test_a_boundary_in_the_skipped_hour_is_the_jump(
    period: WorkingPeriod, real_hours: float
) -> None:
    calendar = sunday_only("Europe/Berlin", period)
    day = business_time_between(calendar, local(BERLIN, 3, 29), local(BERLIN, 3, 30))
    assert day == h(real_hours)


@pytest.mark.parametrize(
    ("period", "real_hours"),
    [
        # Clocks go from 03:00 back to 02:00: a boundary in between is its first occurrence.
        pytest.param(hours("01:00", "02:30"), 1.5, id="ends in the repeated hour"),
        pytest.param(hours("02:30", "04:00"), 2.5, id="starts in the repeated hour"),
        pytest.param(hours("02:00", "03:00"), 2, id="is the repeated hour"),
    ],
)
def test_a_boundary_in_the_repeated_hour_is_its_first_occurrence(
    period: WorkingPeriod, real_hours: float
) -> None:
    calendar = sunday_only("Europe/Berlin", period)
    day = business_time_between(calendar, local(BERLIN, 10, 25), local(BERLIN, 10, 26))
    assert day == h(real_hours)


def test_a_week_with_the_change_keeps_wall_clock_hours() -> None:
    # Friday 16:00 EST + 2 h is Monday 10:00 EDT, 14:00 UTC, not 15:00.
    start = local(NEW_YORK, 3, 6, 16)
    assert add_business_time(office("America/New_York"), start, h(2)) == datetime(
        2026, 3, 9, 14, tzinfo=UTC
    )


def test_weeks_holding_a_change_are_not_counted_as_nominal_weeks() -> None:
    nights = BusinessCalendar.weekly("Europe/Berlin", [hours("00:00", "06:00")], EVERY_DAY)
    spring = (local(BERLIN, 3, 2), local(BERLIN, 4, 6))  # five weeks, 29 March inside
    autumn = (local(BERLIN, 10, 5), local(BERLIN, 11, 2))  # four weeks, 25 October inside
    assert business_time_between(nights, *spring) == h(35 * 6 - 1)
    assert business_time_between(nights, *autumn) == h(28 * 6 + 1)
    assert due(nights, spring[0], h(35 * 6 - 1)) == local(BERLIN, 4, 5, 6)
    assert due(nights, autumn[0], h(28 * 6 + 1)) == local(BERLIN, 11, 1, 6)


def test_always_is_plain_elapsed_time_even_across_dst() -> None:
    calendar = BusinessCalendar.always("Europe/Berlin")
    start = local(BERLIN, 3, 28, 22)
    assert add_business_time(calendar, start, h(30)) == start.astimezone(UTC) + h(30)
    end = local(BERLIN, 11, 1)
    assert business_time_between(calendar, start, end) == end - start
    assert BusinessCalendar.always().nominal_weekly_work == timedelta(days=7)


# --- Working time between two instants ---------------------------------------------------


def test_between_counts_only_working_time() -> None:
    calendar = with_lunch()
    assert business_time_between(calendar, local(BERLIN, 3, 2, 11), local(BERLIN, 3, 2, 14)) == h(2)
    # Friday 16:00 to Monday 10:00: one hour each side of the weekend.
    assert business_time_between(calendar, local(BERLIN, 3, 6, 16), local(BERLIN, 3, 9, 10)) == h(2)
    assert business_time_between(calendar, local(BERLIN, 3, 7), local(BERLIN, 3, 8)) == h(0)


def test_between_is_zero_when_end_is_not_after_start() -> None:
    start = local(BERLIN, 3, 2, 10)
    assert business_time_between(office(), start, start) == timedelta(0)
    assert business_time_between(office(), start, start - h(1)) == timedelta(0)


def test_between_skips_holidays_over_long_spans() -> None:
    calendar = office(holidays=frozenset({date(2026, 3, 4), date(2026, 3, 25)}))
    start, end = local(BERLIN, 3, 2), local(BERLIN, 4, 6)
    assert business_time_between(calendar, start, end) == h(5 * 40 - 2 * 8)


# --- Pauses ----------------------------------------------------------------------------


def test_pauses_are_merged_sorted_and_empty_ones_dropped() -> None:
    t = local(BERLIN, 3, 2, 10).astimezone(UTC)
    pauses = [(t + h(5), t + h(6)), (t, t + h(2)), (t + h(1), t + h(3)), (t + h(3), t + h(4))]
    pauses.append((t + h(9), t + h(9)))
    assert merge_intervals(pauses) == [(t, t + h(4)), (t + h(5), t + h(6))]


def test_a_pause_ending_before_it_starts_is_a_bug() -> None:
    t = local(BERLIN, 3, 2, 10)
    with pytest.raises(ValueError, match="ends before it starts"):
        merge_intervals([(t, t - h(1))])


def test_elapsed_excluding_subtracts_working_time_paused() -> None:
    calendar = office()
    start, end = local(BERLIN, 3, 2, 9), local(BERLIN, 3, 4, 17)  # Mon-Wed: 24 h
    pauses = [
        (local(BERLIN, 3, 2, 10), local(BERLIN, 3, 2, 12)),
        (local(BERLIN, 3, 2, 11), local(BERLIN, 3, 2, 13)),  # overlaps the first: 3 h in all
        (local(BERLIN, 3, 3, 16), local(BERLIN, 3, 4, 10)),  # over the night: 2 h of work
        (local(BERLIN, 3, 4, 16), local(BERLIN, 3, 5, 12)),  # past the end: 1 h counts
        (local(BERLIN, 3, 1, 12), local(BERLIN, 3, 1, 15)),  # Sunday before: nothing
    ]
    assert elapsed_excluding(calendar, start, end, pauses) == h(24 - 3 - 2 - 1)
    assert elapsed_excluding(calendar, start, end, []) == h(24)


def test_due_with_pauses_without_pauses_is_add() -> None:
    start = local(BERLIN, 3, 2, 15)
    assert due_with_pauses(office(), start, h(4)) == add_business_time(office(), start, h(4))


def test_a_completed_pause_pushes_the_due_time_by_its_working_time() -> None:
    start = local(BERLIN, 3, 2, 9)
    pauses = [(local(BERLIN, 3, 2, 10), local(BERLIN, 3, 2, 12))]
    assert due_with_pauses(office(), start, h(4), pauses) == local(BERLIN, 3, 2, 15)
    # A pause at night stops a clock that was not running anyway.
    night = [(local(BERLIN, 3, 2, 18), local(BERLIN, 3, 3, 8))]
    assert due_with_pauses(office(), start, h(10), night) == local(BERLIN, 3, 3, 11)


def test_an_open_pause_means_the_due_time_is_unknown() -> None:
    start = local(BERLIN, 3, 2, 9)
    assert due_with_pauses(office(), start, h(4), paused_since=local(BERLIN, 3, 2, 11)) is None


def test_an_open_pause_after_the_target_keeps_the_past_due_time() -> None:
    start = local(BERLIN, 3, 2, 9)
    late = local(BERLIN, 3, 2, 16)
    assert due_with_pauses(office(), start, h(4), paused_since=late) == local(BERLIN, 3, 2, 13)
    exactly = local(BERLIN, 3, 2, 13)
    assert due_with_pauses(office(), start, h(4), paused_since=exactly) == exactly


def test_completed_and_open_pauses_together() -> None:
    start = local(BERLIN, 3, 2, 9)
    pauses = [(local(BERLIN, 3, 2, 10), local(BERLIN, 3, 2, 12))]
    assert due_with_pauses(office(), start, h(4), pauses, local(BERLIN, 3, 2, 14)) is None
    assert due_with_pauses(office(), start, h(4), pauses, local(BERLIN, 3, 2, 16)) == local(
        BERLIN, 3, 2, 15
    )


def test_a_ticket_created_while_paused_waits_for_the_clock() -> None:
    start = local(BERLIN, 3, 2, 9)
    pauses = [(local(BERLIN, 3, 2, 8), local(BERLIN, 3, 2, 11))]
    assert due_with_pauses(office(), start, h(1), pauses) == local(BERLIN, 3, 2, 12)
    assert due_with_pauses(office(), start, h(1), paused_since=start - h(1)) is None


# --- Calendars ---------------------------------------------------------------------------


def test_week_is_normalised_sorted_and_read_only() -> None:
    calendar = BusinessCalendar("UTC", {0: (hours("13:00", "17:00"), hours("09:00", "12:00"))})
    assert calendar.week[0] == (hours("09:00", "12:00"), hours("13:00", "17:00"))
    assert calendar.week[3] == ()
    assert calendar.nominal_weekly_work == h(7)
    with pytest.raises(TypeError):
        calendar.week[1] = ()  # type: ignore[index]
    assert calendar == BusinessCalendar(
        "UTC", {0: [hours("09:00", "12:00"), hours("13:00", "17:00")]}
    )
    assert hash(calendar) == hash(BusinessCalendar("UTC", {0: calendar.week[0]}))


def test_end_of_day_is_midnight_and_joins_a_shift_across_it() -> None:
    calendar = BusinessCalendar(
        "Europe/Berlin", {0: (hours("22:00", "24:00"),), 1: (hours("00:00", "06:00"),)}
    )
    assert calendar.nominal_weekly_work == h(8)
    assert due(calendar, local(BERLIN, 3, 2, 23), h(3)) == local(BERLIN, 3, 3, 2)
    assert due(calendar, local(BERLIN, 3, 2, 22), h(2)) == local(BERLIN, 3, 3)


def test_every_violation_is_reported_with_its_field_path() -> None:
    found = violations(
        time_zone="Mars/Olympus_Mons",
        week={
            0: (hours("09:00", "12:00"), hours("13:00", "12:30")),
            2: (hours("09:00", "17:00"), hours("12:00", "13:00"), hours("08:00", "09:00")),
            4: (WorkingPeriod(time(9, tzinfo=UTC), time(17)), "09:00-17:00"),
            7: (hours("09:00", "17:00"),),
        },
        holidays=frozenset({date(2026, 1, 1), datetime(2026, 12, 25, tzinfo=UTC)}),
    )
    assert set(found) == {
        "calendar.time_zone",
        "calendar.week.monday[1].end",
        "calendar.week.wednesday[1].start",
        "calendar.week.friday[0].start",
        "calendar.week.friday[1]",
        "calendar.week[7]",
        "calendar.holidays",
    }
    assert found["calendar.week.monday[1].end"] == "must be after start (13:00)"
    assert found["calendar.week.wednesday[1].start"] == "overlaps wednesday[0] (09:00-17:00)"


def test_a_calendar_without_working_time_is_rejected() -> None:
    assert set(violations(week={})) == {"calendar.week"}
    assert set(violations(week={day: () for day in EVERY_DAY})) == {"calendar.week"}


@pytest.mark.parametrize(
    "name", ["localtime", "Factory", "Europe", "", "Europe/Berlin ", "../etc/passwd"]
)
def test_time_zone_must_be_an_iana_name(name: str) -> None:
    assert set(violations(time_zone=name)) == {"calendar.time_zone"}


def test_adjacent_periods_do_not_overlap() -> None:
    calendar = BusinessCalendar("UTC", {0: (hours("09:00", "12:00"), hours("12:00", "13:00"))})
    assert calendar.nominal_weekly_work == h(4)


# --- Holidays from the `holidays` package -----------------------------------------------


def test_holidays_for_a_country() -> None:
    german = holidays_for("DE", [2026], language="en_US")
    assert Holiday(date(2026, 10, 3), "German Unity Day") in german
    assert [holiday.date for holiday in german] == sorted(holiday.date for holiday in german)
    calendar = office(holidays=frozenset(holiday.date for holiday in german))
    # Thursday 24 Dec 16:00 + 2 h: Christmas Day (Fri) and Boxing Day (Sat) are off.
    assert due(calendar, local(BERLIN, 12, 24, 16), h(2)) == local(BERLIN, 12, 28, 10)


def test_holidays_for_a_subdivision() -> None:
    bavaria = {holiday.date for holiday in holidays_for("DE", [2026], subdivision="BY")}
    assert date(2026, 1, 6) in bavaria  # Epiphany: Bavaria, not Berlin
    assert date(2026, 1, 6) not in {holiday.date for holiday in holidays_for("DE", [2026])}


def test_unknown_country_or_subdivision_is_invalid() -> None:
    with pytest.raises(InvalidArgument) as error:
        holidays_for("XX", [2026])
    assert error.value.violations[0].field == "calendar.holiday_country"
    with pytest.raises(InvalidArgument) as error:
        holidays_for("DE", [2026], subdivision="ZZ")
    assert error.value.violations[0].field == "calendar.holiday_subdivision"


# --- Properties ----------------------------------------------------------------------------

# Zones with and without DST, half- and quarter-hour offsets, southern-hemisphere summer.
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",  # a 30-minute DST shift
]


@cache
def change_days(zone: str) -> tuple[date, ...]:
    """Dates in 2026 on which the zone's UTC offset changes (none for most of the world)."""
    noons = [
        datetime(2026, 1, 1, 12, tzinfo=ZoneInfo(zone)) + timedelta(days=n) for n in range(366)
    ]
    return tuple(b.date() for a, b in pairwise(noons) if a.utcoffset() != b.utcoffset())


@st.composite
def day_periods(draw: st.DrawFn, slots_per_hour: int) -> tuple[WorkingPeriod, ...]:
    """Up to three disjoint periods whose bounds fall on a grid of 1/`slots_per_hour` hour."""
    slots = 24 * slots_per_hour
    # Half the bounds between 01:00 and 04:00, where clocks change in Europe, the US and
    # Australia, so bounds inside a skipped or repeated hour are common.
    early = st.integers(slots_per_hour, 4 * slots_per_hour)
    bounds = sorted(draw(st.sets(st.one_of(st.integers(0, slots), early), max_size=6)))
    pairs = zip(bounds[0::2], bounds[1::2], strict=False)
    return tuple(
        WorkingPeriod(_slot_time(a, slots_per_hour), _slot_time(b, slots_per_hour))
        for a, b in pairs
    )


def _slot_time(slot: int, slots_per_hour: int) -> time:
    if slot == 24 * slots_per_hour:
        return END_OF_DAY
    minutes = slot * 60 // slots_per_hour
    return time(minutes // 60, minutes % 60)


@st.composite
def scenarios(
    draw: st.DrawFn, zones: list[str] = ZONES, slots_per_hour: int = 4
) -> tuple[BusinessCalendar, datetime]:
    """A random calendar and a start that is, more often than not, just before one of
    the calendar's DST changes."""
    week = {day: draw(day_periods(slots_per_hour)) for day in EVERY_DAY}
    assume(any(week.values()))
    holidays = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=8))
    calendar = BusinessCalendar(draw(st.sampled_from(zones)), week, holidays)
    changes = change_days(calendar.time_zone)
    if changes and draw(st.integers(0, 3)):
        day = draw(st.sampled_from(changes)) - timedelta(days=draw(st.integers(-1, 14)))
    else:
        day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return calendar, start + timedelta(seconds=draw(st.integers(0, 86400 * 2)))


works = st.integers(0, 300 * 3600).map(lambda seconds: timedelta(seconds=seconds))
properties = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)
Scenario = tuple[BusinessCalendar, datetime]


@properties
@given(scenarios(), works)
def test_between_inverts_add(scenario: Scenario, work: timedelta) -> None:
    calendar, start = scenario
    assert business_time_between(calendar, start, add_business_time(calendar, start, work)) == work


@properties
@given(scenarios(), works, works)
def test_add_is_monotonic_and_associative(
    scenario: Scenario, first: timedelta, second: timedelta
) -> None:
    calendar, start = scenario
    smaller, larger = sorted((first, second))
    assert add_business_time(calendar, start, smaller) <= add_business_time(calendar, start, larger)
    halfway = add_business_time(calendar, start, first)
    assert add_business_time(calendar, halfway, second) == add_business_time(
        calendar, start, first + second
    )


@properties
@given(scenarios(), st.lists(st.integers(1, 6 * 86400), min_size=2, max_size=20))
def test_whole_weeks_counted_at_once_match_counting_day_by_day(
    scenario: Scenario, steps: list[int]
) -> None:
    # Pieces shorter than a week never hold a whole week, so they are counted period by
    # period; their sum must equal the total that skips regular weeks arithmetically.
    calendar, start = scenario
    cuts = [start]
    for seconds in steps:
        cuts.append(cuts[-1] + timedelta(seconds=seconds))
    pieces = sum((business_time_between(calendar, a, b) for a, b in pairwise(cuts)), timedelta(0))
    assert business_time_between(calendar, cuts[0], cuts[-1]) == pieces


def _brute_force_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Working time by definition: the instants whose wall-clock reading is in a period.

    Walks 15-minute UTC slots; the calendars it is used with have every period bound and
    every DST change on that grid, so each slot is working or not as a whole.
    """
    slot = timedelta(minutes=15)
    cursor = start.replace(minute=start.minute // 15 * 15, second=0, microsecond=0)
    total = timedelta(0)
    while cursor < end:
        wall = cursor.astimezone(calendar.zone).replace(tzinfo=None)
        working = wall.date() not in calendar.holidays and any(
            p.start <= wall.time() < p.end for p in calendar.week[wall.weekday()]
        )
        if working:
            total += min(cursor + slot, end) - max(cursor, start)
        cursor += slot
    return total


@properties
@given(
    # Whole-hour bounds never fall inside an hour-long repeated hour, the one place where
    # "first occurrence" and "wall clock inside the window" part ways.
    scenarios(zones=[z for z in ZONES if z != "Australia/Lord_Howe"], slots_per_hour=1),
    st.integers(0, 9 * 86400),
)
def test_between_matches_the_definition(scenario: Scenario, seconds: int) -> None:
    calendar, start = scenario
    end = start + timedelta(seconds=seconds)
    assert business_time_between(calendar, start, end) == _brute_force_between(calendar, start, end)


def _clocks_never_go_back(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    # Offsets change at least a week apart, so samples twelve hours apart see every change.
    samples = [start + timedelta(hours=12 * i) for i in range((end - start) // h(12) + 2)]
    offsets = [sample.astimezone(zone).utcoffset() for sample in samples]
    return all(a <= b for a, b in pairwise(offsets))  # type: ignore[operator]


@properties
@given(scenarios(slots_per_hour=4), st.integers(0, 9 * 86400))
def test_between_matches_the_definition_for_any_bounds_where_no_hour_repeats(
    scenario: Scenario, seconds: int
) -> None:
    # Without a repeated hour the two readings agree for bounds anywhere, skipped hour
    # included: a bound there is the jump, the first instant the wall clock passes it.
    calendar, start = scenario
    end = start + timedelta(seconds=seconds)
    assume(_clocks_never_go_back(calendar.zone, start - h(24), end + h(24)))
    assert business_time_between(calendar, start, end) == _brute_force_between(calendar, start, end)


@properties
@given(
    scenarios(),
    works,
    st.lists(st.tuples(st.integers(-86400, 20 * 86400), st.integers(0, 3 * 86400)), max_size=6),
)
def test_due_with_pauses_is_where_elapsed_excluding_reaches_the_target(
    scenario: Scenario, target: timedelta, raw: list[tuple[int, int]]
) -> None:
    calendar, start = scenario
    pauses = [
        (start + timedelta(seconds=offset), start + timedelta(seconds=offset + length))
        for offset, length in raw
    ]
    result = due_with_pauses(calendar, start, target, pauses)
    assert result is not None
    assert elapsed_excluding(calendar, start, result, pauses) == target
    assert result >= add_business_time(calendar, start, target)
