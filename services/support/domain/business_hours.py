"""Business-hours arithmetic for SLA targets: calendars, due times, elapsed working time.

A `BusinessCalendar` says when a support team works: wall-clock `WorkingPeriod`s per
weekday in one IANA time zone, minus holiday dates. SLA targets ("first response within
4 business hours") are durations of *working* time, so the helpdesk asks two questions:
when is a target due (`add_business_time`, `due_with_pauses`) and how much working time has
passed (`business_time_between`, `elapsed_excluding`). Instants in and out are tz-aware
datetimes; results are in UTC.

Rules, decided once here so every SLA agrees:

- Weekdays are 0 (Monday) to 6 (Sunday), as `date.weekday()` counts them.
- A period is `[start, end)` in wall-clock time on one date. `end=END_OF_DAY` (`time.max`)
  means 24:00, so a period can run to midnight without losing a microsecond; a shift
  across midnight is two periods (22:00-24:00 and 00:00-06:00 the next weekday).
  Holidays are dates in the calendar's zone and remove that date's periods.
- Daylight saving: working hours are wall-clock hours, and what counts is the real time
  that elapses inside the window. A period boundary maps to the first instant at which
  the wall clock reads that time or later: a boundary in the hour skipped in spring is
  the moment the clocks jump, a boundary in the hour repeated in autumn is its first
  occurrence (zoneinfo's fold=0). So 09:00-17:00 is 8 h on a change day, and a
  00:00-06:00 night shift holds 5 h of work on the spring-forward night and 7 h on the
  fall-back night.
- A due time is the instant the last bit of work is done: 4 h from 13:00 on a
  09:00-17:00 day is 17:00 that day, not 09:00 the next. A zero duration is due at once:
  `add_business_time(c, start, timedelta(0)) == start`, even outside working hours.
"""

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, available_timezones

import holidays

from crm_common.errors import InvalidArgument, Violations

END_OF_DAY = time.max
"""A period `end` meaning 24:00, the midnight that ends the day."""

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WORKING_DAYS = range(5)
"""Monday to Friday."""

_MIDNIGHT = time(0)
_ZERO = timedelta(0)
_DAY = timedelta(days=1)
_FOREVER = datetime.max.replace(tzinfo=UTC)

Interval = tuple[datetime, datetime]
"""`[start, end)` between two tz-aware instants; pauses of an SLA clock use it."""


@dataclass(frozen=True)
class WorkingPeriod:
    """Working hours `[start, end)` in wall-clock time; `BusinessCalendar` validates them."""

    start: time
    end: time

    @property
    def nominal_length(self) -> timedelta:
        """Length as the wall clock reads it; real time differs only across a DST change."""
        return _time_of_day(self.end, is_end=True) - _time_of_day(self.start, is_end=False)


@dataclass(frozen=True)
class Holiday:
    """A named public holiday; a calendar needs only its date, people want the name."""

    date: date
    name: str


@dataclass(frozen=True)
class BusinessCalendar:
    """When a team works. Construction validates and reports every problem at once.

    `week` maps weekdays 0-6 to their periods; missing weekdays are days off. It is stored
    normalised: all seven weekdays, periods sorted by start, read-only.
    """

    time_zone: str
    week: Mapping[int, tuple[WorkingPeriod, ...]] = field(hash=False)
    holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _sorted_holidays: tuple[date, ...] = field(init=False, repr=False, compare=False)
    _weekly_work: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        violations = Violations()
        zone = validate_zone(self.time_zone, violations)
        week = _validate_week(self.week, violations)
        holidays = _validate_holidays(self.holidays, violations)
        violations.raise_if_any()
        assert zone is not None and week is not None and holidays is not None
        weekly_work = sum((p.nominal_length for periods in week.values() for p in periods), _ZERO)
        # Frozen dataclass: normalised values are set once, here, and never again.
        object.__setattr__(self, "week", MappingProxyType(week))
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_sorted_holidays", tuple(sorted(holidays)))
        object.__setattr__(self, "_weekly_work", weekly_work)

    @classmethod
    def always(cls, time_zone: str = "UTC") -> "BusinessCalendar":
        """24x7: every instant is working time (for targets in calendar time)."""
        return cls.weekly(time_zone, (WorkingPeriod(_MIDNIGHT, END_OF_DAY),), weekdays=range(7))

    @classmethod
    def weekly(
        cls,
        time_zone: str,
        periods: Iterable[WorkingPeriod],
        weekdays: Iterable[int] = WORKING_DAYS,
        holidays: Iterable[date] = (),
    ) -> "BusinessCalendar":
        """The same periods on each of `weekdays` (Monday to Friday unless told)."""
        each_day = tuple(periods)
        return cls(time_zone, {day: each_day for day in weekdays}, frozenset(holidays))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def nominal_weekly_work(self) -> timedelta:
        """Working time in a week without holidays or DST changes."""
        return self._weekly_work


# --- Validation ---------------------------------------------------------------


@cache
def iana_zones() -> frozenset[str]:
    # Loading alone would accept path-like keys, and the system's tz directory also holds
    # `localtime` (this machine's setting) and `Factory` (no zone at all): neither names a
    # place whose hours a calendar could describe.
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def validate_zone(
    time_zone: object, violations: Violations, path: str = "calendar.time_zone"
) -> ZoneInfo | None:
    """The zone named `time_zone`, or None after recording at `path` that it is not one."""
    if not isinstance(time_zone, str) or time_zone not in iana_zones():
        violations.add(path, f"must be an IANA time zone name, got {time_zone!r}")
        return None
    return ZoneInfo(time_zone)


def _validate_week(
    week: object, violations: Violations
) -> dict[int, tuple[WorkingPeriod, ...]] | None:
    if not isinstance(week, Mapping):
        violations.add("calendar.week", "must map weekdays 0 (Monday) to 6 (Sunday) to periods")
        return None
    normalised: dict[int, tuple[WorkingPeriod, ...]] = {day: () for day in range(7)}
    valid = True
    for day, periods in week.items():
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            violations.add(f"calendar.week[{day!r}]", "weekday must be 0 (Monday) to 6 (Sunday)")
            valid = False
            continue
        path = f"calendar.week.{WEEKDAY_NAMES[day]}"
        checked = validate_day(periods, path, violations)
        if checked is None:
            valid = False
        else:
            normalised[day] = checked
    if valid and not any(normalised.values()):
        violations.add(
            "calendar.week", "must have at least one working period, or nothing is ever due"
        )
    return normalised if valid else None


def validate_day(
    periods: object,
    path: str,
    violations: Violations,
    bounds: tuple[str, str] = ("start", "end"),
) -> tuple[WorkingPeriod, ...] | None:
    """The day's periods sorted by start, or None after recording what is wrong.

    Violations name `{path}[index].{bound}`, with `bounds` naming a period's start
    and end as the caller's request does (a contract may say `start_time`).
    """
    if not isinstance(periods, Iterable):
        violations.add(path, "must be a sequence of working periods")
        return None
    items = list(periods)
    valid = [
        i for i, p in enumerate(items) if _validate_period(p, f"{path}[{i}]", violations, bounds)
    ]
    # Overlaps are reported against the caller's indexes, not the sorted order, and
    # against the period reaching furthest so far (09-17 overlaps both 10-11 and 12-13).
    order = sorted(valid, key=lambda i: items[i].start)
    broken = len(valid) < len(items)
    reaching: int | None = None
    for current in order:
        if reaching is not None and items[current].start < items[reaching].end:
            other = items[reaching]
            violations.add(
                f"{path}[{current}].{bounds[0]}",
                f"overlaps {path.rsplit('.', 1)[1]}[{reaching}] "
                f"({_clock(other.start)}-{_clock(other.end)})",
            )
            broken = True
        if reaching is None or items[current].end > items[reaching].end:
            reaching = current
    return None if broken else tuple(items[i] for i in order)


def _validate_period(
    period: object, path: str, violations: Violations, bounds: tuple[str, str]
) -> bool:
    if not isinstance(period, WorkingPeriod):
        violations.add(path, "must be a WorkingPeriod")
        return False
    bounds_ok = True
    for name, field_name in zip(("start", "end"), bounds, strict=True):
        value = getattr(period, name)
        if not isinstance(value, time) or value.tzinfo is not None:
            # Hours are wall-clock in the calendar's zone; a tzinfo here would contradict it.
            violations.add(f"{path}.{field_name}", "must be a time of day without tzinfo")
            bounds_ok = False
    if bounds_ok and not period.start < period.end:
        violations.add(f"{path}.{bounds[1]}", f"must be after {bounds[0]} ({_clock(period.start)})")
        return False
    return bounds_ok


def _validate_holidays(holidays: object, violations: Violations) -> frozenset[date] | None:
    if not isinstance(holidays, Iterable) or isinstance(holidays, str | bytes):
        violations.add("calendar.holidays", "must be a set of dates")
        return None
    values = list(holidays)
    # datetime is a date subclass, but a holiday is a whole local date.
    wrong = [v for v in values if not isinstance(v, date) or isinstance(v, datetime)]
    if wrong:
        violations.add("calendar.holidays", f"must contain only dates, got {wrong[0]!r}")
        return None
    return frozenset(values)


def _clock(value: time) -> str:
    return "24:00" if value == END_OF_DAY else value.isoformat(timespec="minutes")


# --- Holidays from the `holidays` package --------------------------------------


def holidays_for(
    country_code: str,
    years: Iterable[int],
    subdivision: str | None = None,
    language: str | None = None,
) -> tuple[Holiday, ...]:
    """Public holidays of a country (ISO 3166-1 alpha-2) and optional subdivision, by date.

    Uses the `holidays` package, imported here only, so the arithmetic works without it.
    """
    try:
        found = holidays.country_holidays(
            country_code, subdiv=subdivision, years=list(years), language=language
        )
    except NotImplementedError as error:
        # The package says which one it does not know only in its message.
        about = (
            "subdivision" if subdivision is not None and "subdivision" in str(error) else "country"
        )
        raise InvalidArgument.single(f"calendar.holiday_{about}", str(error)) from error
    return tuple(Holiday(day, name) for day, name in sorted(found.items()))


# --- Arithmetic ---------------------------------------------------------------


def add_business_time(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The instant (UTC) at which `duration` of working time has passed since `start`.

    Counting begins at `start` if it is inside working hours, else at the next period.
    """
    _require_aware(start, "start")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    start = start.astimezone(UTC)
    if duration == _ZERO:
        return start
    remaining = duration
    for chunk in _chunks(calendar, start):
        if chunk.work < remaining:
            remaining -= chunk.work
            continue
        for period_start, period_end in _chunk_intervals(calendar, chunk):
            if period_end - period_start >= remaining:
                return period_start + remaining
            remaining -= period_end - period_start
    raise AssertionError("unreachable: _chunks never ends for a valid calendar")


def business_time_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Working time inside `[start, end)`; zero when `end <= start`."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = _ZERO
    if end <= start:
        return total
    for chunk in _chunks(calendar, start):
        if chunk.start >= end:
            break
        if chunk.end <= end:
            total += chunk.work
            continue
        for period_start, period_end in _chunk_intervals(calendar, chunk):
            if period_start < end:
                total += min(period_end, end) - period_start
        break
    return total


def elapsed_excluding(
    calendar: BusinessCalendar, start: datetime, end: datetime, pauses: Iterable[Interval]
) -> timedelta:
    """Working time in `[start, end)` outside the pauses (any order, may overlap)."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    paused = _ZERO
    for pause_start, pause_end in merge_intervals(pauses):
        paused += business_time_between(calendar, max(pause_start, start), min(pause_end, end))
    return business_time_between(calendar, start, end) - paused


def due_with_pauses(
    calendar: BusinessCalendar,
    start: datetime,
    target: timedelta,
    pauses: Iterable[Interval] = (),
    paused_since: datetime | None = None,
) -> datetime | None:
    """When `target` working time will have run on a clock that stops during pauses.

    `pauses` are completed intervals; `paused_since` opens a pause that has not ended.
    Returns None while that open pause keeps the clock stopped short of the target (the
    due time is unknown until the clock restarts); if the target was reached before the
    pause began, that past due time is returned.
    """
    _require_aware(start, "start")
    if target < _ZERO:
        raise ValueError(f"target must not be negative, got {target}")
    stops = list(pauses)
    if paused_since is not None:
        _require_aware(paused_since, "paused_since")
        stops.append((paused_since, _FOREVER))
    cursor, remaining = start.astimezone(UTC), target
    for pause_start, pause_end in merge_intervals(stops):
        if pause_end <= cursor:
            continue
        running = business_time_between(calendar, cursor, pause_start)
        if running >= remaining:
            return add_business_time(calendar, cursor, remaining)
        remaining -= running
        if pause_end == _FOREVER:
            return None
        cursor = max(cursor, pause_end)
    return add_business_time(calendar, cursor, remaining)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint UTC intervals covering the same instants; empty ones dropped."""
    cleaned: list[Interval] = []
    for index, (start, end) in enumerate(intervals):
        _require_aware(start, f"pauses[{index}] start")
        _require_aware(end, f"pauses[{index}] end")
        if end < start:
            raise ValueError(f"pauses[{index}] ends before it starts: {start} > {end}")
        if end > start:
            cleaned.append((start.astimezone(UTC), end.astimezone(UTC)))
    cleaned.sort()
    merged: list[Interval] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime has no defined instant; guessing a zone would shift SLAs by hours.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


# --- Working intervals ----------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    """A stretch of the timeline and the working time in it; chunks come in order.

    Either one working interval, or a whole regular week (`week_of` its Monday) whose
    work is known without looking at its periods.
    """

    start: datetime
    end: datetime
    work: timedelta
    week_of: date | None = None


def _chunk_intervals(calendar: BusinessCalendar, chunk: _Chunk) -> Iterator[Interval]:
    if chunk.week_of is None:
        yield chunk.start, chunk.end
        return
    for offset in range(7):
        yield from _day_intervals(calendar, chunk.week_of + offset * _DAY)


def _chunks(calendar: BusinessCalendar, after: datetime) -> Iterator[_Chunk]:
    """Working time from `after` on: whole regular weeks in one step, other days by period.

    One iteration per week, or per day in a week with a holiday or a DST change, so a
    long target costs about weeks + holidays + changes iterations.
    """
    # The day before, because on a fall-back at midnight the previous date's wall times
    # repeat after this date's periods have begun.
    day = after.astimezone(calendar.zone).date() - _DAY
    while True:
        if day.weekday() == 0:
            week = _regular_week(calendar, day)
            if week is not None and week[0] >= after:
                yield _Chunk(*week, calendar.nominal_weekly_work, week_of=day)
                day += 7 * _DAY
                continue
        for start, end in _day_intervals(calendar, day):
            if end > after:
                clipped = max(start, after)
                yield _Chunk(clipped, end, end - clipped)
        day += _DAY


def _day_intervals(calendar: BusinessCalendar, day: date) -> list[Interval]:
    """The date's working periods as real UTC intervals, in order; none on a holiday."""
    if day in calendar.holidays:
        return []
    zone = calendar.zone
    intervals = []
    for period in calendar.week[day.weekday()]:
        start = instant(zone, datetime.combine(day, period.start))
        if period.end == END_OF_DAY:
            end = instant(zone, datetime.combine(day + _DAY, _MIDNIGHT))
        else:
            end = instant(zone, datetime.combine(day, period.end))
        if end > start:  # empty when the whole period falls in the skipped spring hour
            intervals.append((start, end))
    return intervals


def _regular_week(calendar: BusinessCalendar, monday: date) -> Interval | None:
    """The week's real span if its working time is exactly the nominal weekly work.

    That holds when no date is a holiday and the UTC offset does not change within the
    week. The offset is sampled at Monday, Thursday and next Monday midnight: no zone in
    the tz database changes its offset twice within four days (the closest changes are
    about seven days apart), so equal samples mean no change in between.
    """
    sunday = monday + 6 * _DAY
    holidays = calendar._sorted_holidays
    index = bisect_left(holidays, monday)
    if index < len(holidays) and holidays[index] <= sunday:
        return None
    zone = calendar.zone
    samples = [datetime.combine(monday + days * _DAY, _MIDNIGHT) for days in (0, 3, 7)]
    if not all(_is_unambiguous(zone, local) for local in samples):
        return None
    instants = [instant(zone, local) for local in samples]
    offsets = {instant.astimezone(zone).utcoffset() for instant in instants}
    return (instants[0], instants[2]) if len(offsets) == 1 else None


def _is_unambiguous(zone: ZoneInfo, local: datetime) -> bool:
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    return first == local.replace(tzinfo=zone, fold=1).astimezone(UTC)


def instant(zone: ZoneInfo, local: datetime) -> datetime:
    """The first instant (UTC) at which the wall clock in `zone` reads `local` or later."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first <= second:
        # Equal for an ordinary time; for a repeated time fold=0 is the first occurrence.
        return first
    # Skipped time: fold=1 reads it with the later offset (an instant before the jump),
    # fold=0 with the earlier one (after the jump). The clocks jump in between.
    return jump_between(zone, second, first)


def jump_between(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant in `(before, after]` at which `zone` switches to `after`'s offset."""
    target = after.astimezone(zone).utcoffset()
    low, high = 0, (after - before) // timedelta(microseconds=1)
    # Invariant: offset at before+low is the old one, at before+high the new one.
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(microseconds=middle)).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return before + timedelta(microseconds=high)


def _time_of_day(value: time, *, is_end: bool) -> timedelta:
    if is_end and value == END_OF_DAY:
        return _DAY
    return timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )
