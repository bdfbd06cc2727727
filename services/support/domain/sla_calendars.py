"""Business calendars as the helpdesk stores them (`calendars/{id}`).

A calendar is the resource people edit: weekly hours listed per weekday, explicit
holiday dates and optionally a country (and subdivision) whose public holidays
count too. `business_calendar` turns it into the `BusinessCalendar` the SLA
arithmetic in business_hours.py works on.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from crm_common.errors import InvalidArgument, Violations
from crm_common.validation import check_count, check_id, check_length
from crm_support.domain.business_hours import (
    WEEKDAY_NAMES,
    BusinessCalendar,
    WorkingPeriod,
    holidays_for,
    validate_day,
    validate_zone,
)

CALENDARS = "calendars/"
DISPLAY_NAME_MAX = 200
# The longest IANA names have about 30 characters.
TIME_ZONE_MAX = 64
PERIODS_MAX = 24
HOLIDAYS_MAX = 1000
COUNTRY_CODE_MAX = 8
SUBDIVISION_MAX = 64
# Holidays of a country are loaded for the years around the moment measured:
# targets are at most a year of business time, so they fall due within them.
HOLIDAY_YEARS_BEFORE, HOLIDAY_YEARS_AFTER = 1, 2
_PREFIX = "calendar"
_PERIOD_BOUNDS = ("start_time", "end_time")


@dataclass(frozen=True)
class WorkingDay:
    """A weekday's periods; `weekday` is 0 (Monday) to 6, None when the client gave none."""

    weekday: int | None
    periods: tuple[WorkingPeriod, ...]


@dataclass(frozen=True)
class CalendarSpec:
    """The writable part of a calendar; hashable, so built calendars can be cached by it."""

    display_name: str = ""
    time_zone: str = ""
    # Sorted by weekday once normalised.
    weekly_hours: tuple[WorkingDay, ...] = ()
    holidays: tuple[date, ...] = ()
    holiday_country: str = ""
    holiday_subdivision: str = ""


UPDATABLE_FIELDS = tuple(CalendarSpec.__dataclass_fields__)


@dataclass
class Calendar:
    id: str
    spec: CalendarSpec
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return CALENDARS + self.id

    @classmethod
    def create(cls, calendar_id: str, spec: CalendarSpec, now: datetime) -> "Calendar":
        violations = Violations()
        check_id(violations, "calendar_id", calendar_id)
        spec = normalise(spec, violations, now.year)
        violations.raise_if_any()
        return cls(calendar_id, spec, now, now)

    def update(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Applies the changes; returns the names of the fields that really changed."""
        violations = Violations()
        merged = normalise(replace(self.spec, **changes), violations, now.year)
        violations.raise_if_any()
        changed = [name for name in changes if getattr(merged, name) != getattr(self.spec, name)]
        if changed:
            self.spec = merged
            self.update_time = now
            self.version += 1
        return changed

    def business_calendar(self, around: datetime) -> BusinessCalendar:
        """The arithmetic's calendar, with country holidays of the years around `around`."""
        return business_calendar(self.spec, around.year)


@lru_cache(maxsize=256)
def business_calendar(spec: CalendarSpec, year: int) -> BusinessCalendar:
    """Cached by content: an edited calendar is a different key, so nothing goes stale."""
    holidays = set(spec.holidays)
    if spec.holiday_country:
        years = range(year - HOLIDAY_YEARS_BEFORE, year + HOLIDAY_YEARS_AFTER + 1)
        found = holidays_for(spec.holiday_country, years, spec.holiday_subdivision or None)
        holidays.update(holiday.date for holiday in found)
    week = {day.weekday: day.periods for day in spec.weekly_hours if day.weekday is not None}
    return BusinessCalendar(spec.time_zone, week, frozenset(holidays))


def normalise(spec: CalendarSpec, violations: Violations, year: int) -> CalendarSpec:
    """Checks every field, collecting all violations, and returns canonical values."""
    display_name = spec.display_name.strip()
    if not display_name:
        violations.add(f"{_PREFIX}.display_name", "is required")
    check_length(violations, f"{_PREFIX}.display_name", display_name, DISPLAY_NAME_MAX)
    time_zone = spec.time_zone.strip()
    if len(time_zone) > TIME_ZONE_MAX:  # not echoed back: errors travel in size-limited headers
        violations.add(f"{_PREFIX}.time_zone", f"is longer than {TIME_ZONE_MAX} characters")
    else:
        validate_zone(time_zone, violations, f"{_PREFIX}.time_zone")
    country = spec.holiday_country.strip().upper()
    subdivision = spec.holiday_subdivision.strip()
    _check_holiday_region(country, subdivision, violations, year)
    check_count(violations, f"{_PREFIX}.holidays", spec.holidays, HOLIDAYS_MAX)
    return replace(
        spec,
        display_name=display_name,
        time_zone=time_zone,
        weekly_hours=_weekly_hours(spec.weekly_hours, violations),
        holidays=tuple(sorted(set(spec.holidays))),
        holiday_country=country,
        holiday_subdivision=subdivision,
    )


def _weekly_hours(days: Iterable[WorkingDay], violations: Violations) -> tuple[WorkingDay, ...]:
    path = f"{_PREFIX}.weekly_hours"
    seen: dict[int, int] = {}
    normalised: list[WorkingDay] = []
    for index, day in enumerate(days):
        day_path = f"{path}[{index}]"
        if day.weekday is None:
            violations.add(f"{day_path}.day_of_week", "is required")
        elif day.weekday in seen:
            violations.add(
                f"{day_path}.day_of_week",
                f"{WEEKDAY_NAMES[day.weekday]} is already listed at weekly_hours"
                f"[{seen[day.weekday]}]; put all of a day's periods in one entry",
            )
        else:
            seen[day.weekday] = index
        periods_path = f"{day_path}.periods"
        if not day.periods:
            violations.add(periods_path, "name at least one period; leave a day off out")
        check_count(violations, periods_path, day.periods, PERIODS_MAX)
        periods = validate_day(day.periods, periods_path, violations, _PERIOD_BOUNDS)
        normalised.append(replace(day, periods=periods or day.periods))
    if not normalised:
        violations.add(path, "must have at least one working period, or nothing is ever due")
    return tuple(sorted(normalised, key=lambda d: -1 if d.weekday is None else d.weekday))


def _check_holiday_region(
    country: str, subdivision: str, violations: Violations, year: int
) -> None:
    check_length(violations, f"{_PREFIX}.holiday_country", country, COUNTRY_CODE_MAX)
    check_length(violations, f"{_PREFIX}.holiday_subdivision", subdivision, SUBDIVISION_MAX)
    if subdivision and not country:
        violations.add(f"{_PREFIX}.holiday_subdivision", "needs a holiday_country")
    elif country and len(country) <= COUNTRY_CODE_MAX and len(subdivision) <= SUBDIVISION_MAX:
        try:
            holidays_for(country, [year], subdivision or None)
        except InvalidArgument as error:
            violations.extend(error.violations)
