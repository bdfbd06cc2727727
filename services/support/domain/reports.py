"""Ticket reports: the days a report covers, and its figures assembled from counts.

Storage counts and ranks in SQL; this module decides everything else: which
instants belong to which local day, zero-filling, medians' rounding, totals,
percentages and the breakdown's order.

Days are local to the report's IANA time zone. A day starts at the first
instant its date shows on the wall clock (so a day with a DST change lasts 23
or 25 hours), and the range is `[start of the first day, start of the day
after the last)`. Storage buckets instants into days with the zone's UTC
offsets over the range (`ReportPeriod.offsets`), which keeps the SQL plain
arithmetic on both backends and the tz rules in one place (zoneinfo).
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import IntEnum
from itertools import pairwise
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from crm_common.errors import FailedPrecondition, Violations
from crm_support.domain.business_hours import iana_zones, instant, jump_between
from crm_support.domain.sla_state import SlaMetric
from crm_support.domain.tickets import SatisfactionScore, TicketStatus

MAX_DAYS = 366
EARLIEST_DAY = date(1970, 1, 1)
# The day after the last must still be a date.
LATEST_DAY = date(9998, 12, 31)
DEFAULT_TIME_ZONE = "UTC"
# Rows a breakdown may have: a year of days per row stays well inside a
# client's default 4 MB message limit.
MAX_BREAKDOWN = 500
UNSOLVED = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)
RESOLVED = (TicketStatus.SOLVED, TicketStatus.CLOSED)

_DAY = timedelta(days=1)
T = TypeVar("T")

# The agent or group a figure belongs to (`agents/1`, `groups/2`); "" for
# tickets without one, and for everything when the report is not broken down.
Key = str


class Grouping(IntEnum):
    NONE = 0
    AGENT = 1
    GROUP = 2


@dataclass(frozen=True)
class OffsetSpan:
    """From `start` (UTC) until the next span's start, the zone is `offset` ahead of UTC."""

    start: datetime
    offset: timedelta


@dataclass(frozen=True)
class ReportPeriod:
    first_day: date
    last_day: date
    time_zone: str
    # [start, end): the first instant of first_day and of the day after last_day, in UTC.
    start: datetime
    end: datetime
    # Cover [start, end), first one starting at `start`.
    offsets: tuple[OffsetSpan, ...]

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + n * _DAY for n in range(count)]


def report_period(
    first_day: tuple[int, int, int], last_day: tuple[int, int, int], time_zone: str
) -> ReportPeriod:
    """The period from year/month/day triples (as a request has them) and a zone name.

    INVALID_ARGUMENT for every problem at once, on `start_date`, `end_date`
    and `time_zone`.
    """
    violations = Violations()
    first = _day(violations, "start_date", first_day)
    last = _day(violations, "end_date", last_day)
    zone_name = time_zone or DEFAULT_TIME_ZONE
    if zone_name not in iana_zones():
        violations.add(
            "time_zone", f"must be an IANA time zone name such as Europe/Berlin, got {time_zone!r}"
        )
    if first is not None and last is not None:
        if last < first:
            violations.add("end_date", f"must not be before start_date ({first.isoformat()})")
        elif (last - first).days + 1 > MAX_DAYS:
            violations.add("end_date", f"the range may span at most {MAX_DAYS} days")
    violations.raise_if_any()
    assert first is not None and last is not None
    zone = ZoneInfo(zone_name)
    starts = [_day_start(zone, first + n * _DAY) for n in range((last - first).days + 2)]
    return ReportPeriod(first, last, zone_name, starts[0], starts[-1], _offsets(zone, starts))


def _day(violations: Violations, field: str, parts: tuple[int, int, int]) -> date | None:
    if parts == (0, 0, 0):
        violations.add(field, "is required")
        return None
    try:
        value = date(*parts)
    except ValueError:
        violations.add(field, f"{_written(parts)} is not a calendar date")
        return None
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        violations.add(
            field, f"must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"
        )
        return None
    return value


def _written(parts: tuple[int, int, int]) -> str:
    year, month, day = parts
    return f"{year:04d}-{month:02d}-{day:02d}"


def _day_start(zone: ZoneInfo, day: date) -> datetime:
    return instant(zone, datetime.combine(day, time(0)))


def _offsets(zone: ZoneInfo, day_starts: list[datetime]) -> tuple[OffsetSpan, ...]:
    """The zone's offsets over [first start, last start), a span per change.

    Offsets are sampled at each day's start and a change found in between is
    located exactly. No zone changes its offset twice within one day, so a
    change never hides between two equal samples.
    """
    spans = [OffsetSpan(day_starts[0], _offset(zone, day_starts[0]))]
    for start, next_start in pairwise(day_starts):
        if _offset(zone, next_start) != _offset(zone, start):
            change = jump_between(zone, start, next_start)
            spans.append(OffsetSpan(change, _offset(zone, change)))
    return tuple(spans)


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # zoneinfo always knows
    return offset


# --- What storage counts -----------------------------------------------------


@dataclass(frozen=True)
class Middle:
    """A median as SQL found it: how many values, and the middle one (microseconds)."""

    count: int
    microseconds: float | None


class SlaOutcome(NamedTuple):
    metric: SlaMetric
    # True for a target met, False for one breached.
    met: bool


@dataclass
class ReportCounts:
    """The raw figures of a report, each keyed by agent or group (or "")."""

    created: Counter[tuple[Key, date]]
    solved: Counter[tuple[Key, date]]
    backlog: Counter[tuple[Key, TicketStatus]]
    sla: Counter[tuple[Key, SlaOutcome]]
    satisfaction: Counter[tuple[Key, SatisfactionScore]]
    # Medians per key, and over all tickets (medians do not add up).
    first_response: Mapping[Key, Middle]
    resolution: Mapping[Key, Middle]
    total_first_response: Middle
    total_resolution: Middle


# --- The report ----------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    day: date
    created: int
    solved: int


@dataclass(frozen=True)
class DurationSummary:
    count: int
    median: timedelta | None


@dataclass(frozen=True)
class Compliance:
    met: int
    breached: int

    @property
    def percent(self) -> float | None:
        return _percent(self.met, self.met + self.breached)


@dataclass(frozen=True)
class Satisfaction:
    good: int
    bad: int

    @property
    def good_percent(self) -> float | None:
        return _percent(self.good, self.good + self.bad)


@dataclass(frozen=True)
class Figures:
    days: tuple[DayCount, ...]
    # Every unsolved status, zeros included.
    backlog: Mapping[TicketStatus, int]
    first_response: DurationSummary
    resolution: DurationSummary
    # Every metric, zeros included.
    sla: Mapping[SlaMetric, Compliance]
    satisfaction: Satisfaction

    @property
    def created(self) -> int:
        return sum(day.created for day in self.days)

    @property
    def solved(self) -> int:
        return sum(day.solved for day in self.days)

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog.values())

    @property
    def sla_total(self) -> Compliance:
        return Compliance(
            sum(c.met for c in self.sla.values()), sum(c.breached for c in self.sla.values())
        )


@dataclass(frozen=True)
class TicketReport:
    period: ReportPeriod
    grouping: Grouping
    total: Figures
    # By key: named agents or groups in name order, then "" (none).
    breakdown: tuple[tuple[Key, Figures], ...]


def build_report(period: ReportPeriod, grouping: Grouping, counts: ReportCounts) -> TicketReport:
    """Totals and, when grouped, one row per key that has anything to count.

    FAILED_PRECONDITION when there are more than MAX_BREAKDOWN keys.
    """
    total = _figures(
        period,
        _merged(counts.created),
        _merged(counts.solved),
        _merged(counts.backlog),
        _merged(counts.sla),
        _merged(counts.satisfaction),
        _summary(counts.total_first_response),
        _summary(counts.total_resolution),
    )
    if grouping is Grouping.NONE:
        return TicketReport(period, grouping, total, ())
    keys = _keys(counts)
    if len(keys) > MAX_BREAKDOWN:
        kind = "agents" if grouping is Grouping.AGENT else "groups"
        raise FailedPrecondition(
            f"{len(keys)} {kind} have tickets to report, more than the {MAX_BREAKDOWN} "
            "one report breaks down; narrow it with a filter"
        )
    created, solved, backlog = _split(counts.created), _split(counts.solved), _split(counts.backlog)
    sla, satisfaction = _split(counts.sla), _split(counts.satisfaction)
    breakdown = tuple(
        (
            key,
            _figures(
                period,
                created.get(key, {}),
                solved.get(key, {}),
                backlog.get(key, {}),
                sla.get(key, {}),
                satisfaction.get(key, {}),
                _summary(counts.first_response.get(key, Middle(0, None))),
                _summary(counts.resolution.get(key, Middle(0, None))),
            ),
        )
        for key in keys
    )
    return TicketReport(period, grouping, total, breakdown)


def _figures(
    period: ReportPeriod,
    created: Mapping[date, int],
    solved: Mapping[date, int],
    backlog: Mapping[TicketStatus, int],
    sla: Mapping[SlaOutcome, int],
    satisfaction: Mapping[SatisfactionScore, int],
    first_response: DurationSummary,
    resolution: DurationSummary,
) -> Figures:
    return Figures(
        days=tuple(DayCount(day, created.get(day, 0), solved.get(day, 0)) for day in period.days),
        backlog={status: backlog.get(status, 0) for status in UNSOLVED},
        first_response=first_response,
        resolution=resolution,
        sla={
            metric: Compliance(
                sla.get(SlaOutcome(metric, True), 0), sla.get(SlaOutcome(metric, False), 0)
            )
            for metric in SlaMetric
        },
        satisfaction=Satisfaction(
            satisfaction.get(SatisfactionScore.GOOD, 0), satisfaction.get(SatisfactionScore.BAD, 0)
        ),
    )


def _merged(counts: Counter[tuple[Key, T]]) -> Counter[T]:
    merged: Counter[T] = Counter()
    for (_, what), count in counts.items():
        merged[what] += count
    return merged


def _split(counts: Counter[tuple[Key, T]]) -> dict[Key, dict[T, int]]:
    """The counts of each key apart, in one pass."""
    split: dict[Key, dict[T, int]] = {}
    for (key, what), count in counts.items():
        split.setdefault(key, {})[what] = count
    return split


def _keys(counts: ReportCounts) -> list[Key]:
    found: set[Key] = set(counts.first_response) | set(counts.resolution)
    for counter in (
        counts.created,
        counts.solved,
        counts.backlog,
        counts.sla,
        counts.satisfaction,
    ):
        found.update(key for key, _ in counter)
    # Named ones in name order, then the tickets without one.
    return sorted(found, key=lambda key: (key == "", key))


def _summary(middle: Middle) -> DurationSummary:
    if middle.microseconds is None:
        return DurationSummary(middle.count, None)
    return DurationSummary(middle.count, timedelta(microseconds=round(middle.microseconds)))


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None
