"""Sales reports assembled from what the database counts and sums.

Storage groups deals in SQL and returns a few rows; this module turns those
rows into report figures: date ranges, currency conversion, the funnel's
running totals, duration statistics, win rates and reason tallies. Money is
Decimal throughout; amounts per currency are `Amounts` maps.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise
from statistics import median

from crm_common.errors import FailedPrecondition, Violations
from crm_sales.domain.forecast import PERCENT, Bucket, ForecastLine, LineKey, forecast
from crm_sales.domain.money import NANOS, ExchangeRates, Money
from crm_sales.domain.opportunities import StageVisit, State
from crm_sales.domain.pipelines import Pipeline

EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9998, 12, 31)
MAX_DAYS = 1830
# Lines a forecast or win-rate report may have, well inside a 4 MB message.
MAX_LINES = 5000
# Enough digits that converting and summing amounts below 1e15 never rounds.
PRECISION = 60

# Amount per ISO currency code.
Amounts = dict[str, Decimal]


@dataclass(frozen=True)
class DayRange:
    """Whole UTC days, `first` to `last` included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the range."""
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)


def day_range(
    violations: Violations,
    first: tuple[int, int, int],
    last: tuple[int, int, int],
    *,
    required: bool,
) -> DayRange | None:
    """The range from year/month/day triples (as google.type.Date has them);
    violations on `start_date` and `end_date`. None when neither is given
    and the range is optional, or after a violation."""
    if not required and first == last == (0, 0, 0):
        return None
    start = _day(violations, "start_date", first)
    end = _day(violations, "end_date", last)
    if start is None or end is None:
        return None
    if end < start:
        violations.add("end_date", f"must not be before start_date ({start.isoformat()})")
        return None
    if (end - start).days + 1 > MAX_DAYS:
        violations.add("end_date", f"the range may span at most {MAX_DAYS} days")
        return None
    return DayRange(start, end)


def _day(violations: Violations, field: str, parts: tuple[int, int, int]) -> date | None:
    if parts == (0, 0, 0):
        violations.add(field, "is required")
        return None
    try:
        value = date(*parts)
    except ValueError:
        violations.add(field, "{:04}-{:02}-{:02} is not a calendar date".format(*parts))
        return None
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        violations.add(
            field, f"must be between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"
        )
        return None
    return value


def check_line_count(count: int) -> None:
    if count > MAX_LINES:
        raise FailedPrecondition(
            f"the report would have {count} lines, more than {MAX_LINES}; "
            "narrow the range, the filter or the breakdown"
        )


def add_to(amounts: Amounts, currency: str, amount: Decimal) -> None:
    amounts[currency] = amounts.get(currency, Decimal(0)) + amount


@dataclass(frozen=True)
class Conversion:
    """Converts amounts into `target` through the base currency.

    Amounts are converted into the base exactly and summed there; the one
    division by the target's rate comes last, so a total is rounded once.
    """

    rates: ExchangeRates
    target: str

    def check(self) -> None:
        """FAILED_PRECONDITION when the target itself has no rate."""
        self._target_rate()

    def total(self, amounts: Mapping[str, Decimal]) -> Amounts:
        """All of `amounts` as one amount in the target currency."""
        with localcontext() as context:
            context.prec = PRECISION
            in_base = sum(
                (
                    self.rates.convert(Money(currency, amounts[currency])).amount
                    for currency in sorted(amounts)
                ),
                Decimal(0),
            )
            return {self.target: self._from_base(in_base)}

    def forecast(self, buckets: Iterable[Bucket]) -> list[ForecastLine]:
        """The forecast in the target currency: each line's sums per currency
        converted into the base exactly, added up, then divided by the target's
        rate and rounded to the nano once."""
        converted: dict[LineKey, tuple[ForecastLine, list[Decimal]]] = {}
        with localcontext() as context:
            context.prec = PRECISION
            for line in forecast(buckets):
                key = line.key
                target = LineKey(key.period_start, key.owner, key.pipeline_id, self.target)
                if target not in converted:
                    converted[target] = (ForecastLine(target), [Decimal(0)] * 5)
                total, in_base = converted[target]
                total.open_count += line.open_count
                total.won_count += line.won_count
                rate = self.rates.rate_of(key.currency)
                for index, nanos in enumerate(_figures(line)):
                    in_base[index] += nanos * rate
            result = []
            for total, in_base in converted.values():
                (
                    total.pipeline_nanos,
                    total.best_case_nanos,
                    total.commit_nanos,
                    total.closed_nanos,
                    weighted_nanos,
                ) = (self._nanos_from_base(amount) for amount in in_base)
                # Whole nanos now: the percent is back as a factor of 100.
                total.weighted_percent_nanos = weighted_nanos * PERCENT
                result.append(total)
        return result

    def _target_rate(self) -> Decimal:
        if self.target == self.rates.base:
            return Decimal(1)
        rate = self.rates.rates.get(self.target)
        if rate is None:
            raise FailedPrecondition(
                f"no exchange rate from {self.target} to {self.rates.base}; add one first"
            )
        return rate

    def _nanos_from_base(self, nanos: Decimal) -> int:
        """Nanos of the base as whole nanos of the target, rounded half to even."""
        return int((nanos / self._target_rate()).to_integral_value(rounding=ROUND_HALF_EVEN))

    def _from_base(self, amount: Decimal) -> Decimal:
        with localcontext() as context:
            context.prec = PRECISION
            return (amount / self._target_rate()).quantize(NANOS, rounding=ROUND_HALF_EVEN)


def _figures(line: ForecastLine) -> tuple[int, int, int, int, Decimal]:
    """Pipeline, best case, commit, closed and weighted, in nanos."""
    return (
        line.pipeline_nanos,
        line.best_case_nanos,
        line.commit_nanos,
        line.closed_nanos,
        Decimal(line.weighted_percent_nanos) / PERCENT,
    )


def in_currency(amounts: Mapping[str, Decimal], conversion: Conversion | None) -> Amounts:
    """Per currency, or converted into one when a conversion is asked for."""
    if conversion is None:
        return dict(sorted(amounts.items()))
    return conversion.total(amounts)


# Funnel


@dataclass(frozen=True)
class FurthestStage:
    """Deals of a pipeline whose furthest stage (board position) is `position`,
    summed per currency by the database."""

    position: int
    currency: str
    count: int
    amount: Decimal


def furthest_reached(
    visits: Iterable[StageVisit], positions: Mapping[str, Mapping[str, int]]
) -> dict[str, int]:
    """Per pipeline a deal entered, the board position of the furthest stage it
    entered there (`positions`: stage id -> position, per pipeline id)."""
    furthest: dict[str, int] = {}
    for visit in visits:
        position = positions.get(visit.pipeline_id, {}).get(visit.stage_id)
        if position is not None and position >= furthest.get(visit.pipeline_id, position):
            furthest[visit.pipeline_id] = position
    return furthest


@dataclass(frozen=True)
class CurrentStage:
    """Open deals in a stage now."""

    stage_id: str
    currency: str
    count: int
    amount: Decimal


@dataclass
class FunnelFigures:
    """What a funnel counts, from the database: deals per furthest stage, open
    deals per current stage, and closed deals as (state, currency, count, value)."""

    furthest: list[FurthestStage] = field(default_factory=list)
    current: list[CurrentStage] = field(default_factory=list)
    closed: list[tuple[State, str, int, Decimal]] = field(default_factory=list)


@dataclass
class FunnelStep:
    stage_id: str
    display_name: str
    archived: bool
    reached_count: int = 0
    reached_value: Amounts = field(default_factory=dict)
    current_count: int = 0
    current_value: Amounts = field(default_factory=dict)
    next_stage_conversion_percent: float | None = None


def funnel(
    pipeline: Pipeline,
    furthest: Iterable[FurthestStage],
    current: Iterable[CurrentStage],
    conversion: Conversion | None,
) -> list[FunnelStep]:
    """A step per stage in board order: a deal reached every stage up to its furthest."""
    steps = [FunnelStep(s.id, s.display_name, s.archived) for s in pipeline.stages]
    for row in furthest:
        for step in steps[: row.position + 1]:
            step.reached_count += row.count
            add_to(step.reached_value, row.currency, row.amount)
    by_id = {step.stage_id: step for step in steps}
    for row in current:
        step = by_id.get(row.stage_id)
        if step is not None:
            step.current_count += row.count
            add_to(step.current_value, row.currency, row.amount)
    for step, following in pairwise(steps):
        if step.reached_count:
            step.next_stage_conversion_percent = (
                100.0 * following.reached_count / step.reached_count
            )
    for step in steps:
        step.reached_value = in_currency(step.reached_value, conversion)
        step.current_value = in_currency(step.current_value, conversion)
    return steps


# Time in stage


@dataclass(frozen=True)
class DurationSummary:
    count: int
    mean: timedelta | None
    median: timedelta | None


def summarise(durations: Sequence[timedelta]) -> DurationSummary:
    """Mean and median to the microsecond (the median of an even count is the
    mean of the middle two, rounded half-even like timedelta division)."""
    if not durations:
        return DurationSummary(0, None, None)
    micros = [duration // timedelta(microseconds=1) for duration in durations]
    return DurationSummary(
        len(micros),
        _micros(Decimal(sum(micros)) / len(micros)),
        _micros(Decimal(median(micros))),
    )


def _micros(value: Decimal) -> timedelta:
    return timedelta(microseconds=int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)))


# Win rate


@dataclass(frozen=True)
class ClosedBucket:
    """Deals closed in one period, summed by the database."""

    period_start: date
    owner: str
    state: State
    currency: str
    count: int
    amount: Decimal


@dataclass
class WinRateLine:
    period_start: date
    owner: str
    won_count: int = 0
    lost_count: int = 0
    won_value: Amounts = field(default_factory=dict)
    average_won_value: Amounts = field(default_factory=dict)
    # Deals won per currency: the average's divisor.
    won_counts: dict[str, int] = field(default_factory=dict)

    @property
    def win_rate_percent(self) -> float:
        closed = self.won_count + self.lost_count
        return 100.0 * self.won_count / closed if closed else 0.0


def win_rates(
    buckets: Iterable[ClosedBucket], *, by_owner: bool, conversion: Conversion | None
) -> list[WinRateLine]:
    lines: dict[tuple[date, str], WinRateLine] = {}
    for bucket in buckets:
        owner = bucket.owner if by_owner else ""
        key = (bucket.period_start, owner)
        line = lines.get(key) or lines.setdefault(key, WinRateLine(bucket.period_start, owner))
        if bucket.state is State.WON:
            line.won_count += bucket.count
            add_to(line.won_value, bucket.currency, bucket.amount)
            line.won_counts[bucket.currency] = (
                line.won_counts.get(bucket.currency, 0) + bucket.count
            )
        elif bucket.state is State.LOST:
            line.lost_count += bucket.count
    check_line_count(len(lines))
    for line in lines.values():
        if conversion is None:
            line.won_value = dict(sorted(line.won_value.items()))
            line.average_won_value = {
                currency: _average(amount, line.won_counts[currency])
                for currency, amount in line.won_value.items()
            }
        elif line.won_count:
            line.won_value = conversion.total(line.won_value)
            line.average_won_value = {
                currency: _average(amount, line.won_count)
                for currency, amount in line.won_value.items()
            }
    return [lines[key] for key in sorted(lines)]


def _average(amount: Decimal, count: int) -> Decimal:
    with localcontext() as context:
        context.prec = PRECISION
        return (amount / count).quantize(NANOS, rounding=ROUND_HALF_EVEN)


# Win and loss reasons


@dataclass(frozen=True)
class ReasonBucket:
    """Deals closed with one reason in one currency, summed by the database."""

    reason_id: str
    state: State
    currency: str
    count: int
    amount: Decimal


@dataclass
class ReasonTally:
    reason_id: str
    display_name: str
    outcome: State
    count: int = 0
    value: Amounts = field(default_factory=dict)


def reason_tallies(
    buckets: Iterable[ReasonBucket],
    display_names: Mapping[str, str],
    conversion: Conversion | None,
) -> list[ReasonTally]:
    """Won reasons first, then lost; each by count (most first), then id."""
    tallies: dict[tuple[State, str], ReasonTally] = {}
    for bucket in buckets:
        key = (bucket.state, bucket.reason_id)
        tally = tallies.get(key) or tallies.setdefault(
            key,
            ReasonTally(bucket.reason_id, display_names.get(bucket.reason_id, ""), bucket.state),
        )
        tally.count += bucket.count
        add_to(tally.value, bucket.currency, bucket.amount)
    ordered = sorted(tallies.values(), key=lambda t: (t.outcome, -t.count, t.reason_id))
    for tally in ordered:
        tally.value = in_currency(tally.value, conversion)
    return ordered
