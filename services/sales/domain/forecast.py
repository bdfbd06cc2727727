"""Forecasts: what the open and won deals of each period add up to.

The database sums deals into buckets (period, owner, pipeline, currency,
state, category); this module turns buckets into the figures sales managers
read. Amounts stay integers of nanos while they are summed (exact, and far
cheaper than Decimal); weighted sums carry the probability percent too and are
divided by 100 once, when a figure is read. Conversion into one currency
(crm_sales.domain.reports.Conversion) works on the summed lines in Decimal.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from crm_sales.domain.money import divide_half_even
from crm_sales.domain.opportunities import ForecastCategory, State

# Weighted sums are nanos times the probability in percent.
PERCENT = 100


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


def period_start(day: date, period: Period) -> date:
    month = day.month if period is Period.MONTH else 3 * ((day.month - 1) // 3) + 1
    return date(day.year, month, 1)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Deals summed by the database: open ones by expected close date, won ones by
    close date."""

    period_start: date
    owner: str
    pipeline_id: str
    currency: str
    state: State
    category: ForecastCategory
    # The sum of the amounts, in nanos.
    amount_nanos: int
    # The sum of amount nanos * probability percent.
    weighted_percent_nanos: int
    count: int


@dataclass(frozen=True)
class LineKey:
    period_start: date
    # Empty when the forecast is not split by owner or pipeline.
    owner: str
    pipeline_id: str
    currency: str


@dataclass(slots=True)
class ForecastLine:
    """One line's figures in integer nanos; the Decimal properties read them."""

    key: LineKey
    pipeline_nanos: int = 0
    best_case_nanos: int = 0
    commit_nanos: int = 0
    closed_nanos: int = 0
    weighted_percent_nanos: int = 0
    open_count: int = 0
    won_count: int = 0

    def add(self, bucket: Bucket) -> None:
        amount = bucket.amount_nanos
        if bucket.state is State.WON:
            self.closed_nanos += amount
            self.commit_nanos += amount
            self.best_case_nanos += amount
            self.weighted_percent_nanos += amount * PERCENT
            self.won_count += bucket.count
            return
        if bucket.state is not State.OPEN or bucket.category is ForecastCategory.OMITTED:
            return
        self.pipeline_nanos += amount
        self.weighted_percent_nanos += bucket.weighted_percent_nanos
        self.open_count += bucket.count
        if bucket.category is ForecastCategory.COMMIT:
            self.commit_nanos += amount
            self.best_case_nanos += amount
        elif bucket.category is ForecastCategory.BEST_CASE:
            self.best_case_nanos += amount

    @property
    def weighted_nanos(self) -> int:
        """The weighted value rounded half to even to the nano, as Money carries it."""
        return divide_half_even(self.weighted_percent_nanos, PERCENT)

    @property
    def pipeline(self) -> Decimal:
        return _decimal(self.pipeline_nanos)

    @property
    def best_case(self) -> Decimal:
        return _decimal(self.best_case_nanos)

    @property
    def commit(self) -> Decimal:
        return _decimal(self.commit_nanos)

    @property
    def closed(self) -> Decimal:
        return _decimal(self.closed_nanos)

    @property
    def weighted(self) -> Decimal:
        """Exact, before rounding to the nano."""
        return Decimal(f"{self.weighted_percent_nanos}e-11")


def forecast(buckets: Iterable[Bucket], *, by_owner: bool, by_pipeline: bool) -> list[ForecastLine]:
    """One line per period (and owner, pipeline when asked) and currency."""
    lines: dict[tuple[date, str, str, str], ForecastLine] = {}
    for bucket in buckets:
        key = (
            bucket.period_start,
            bucket.owner if by_owner else "",
            bucket.pipeline_id if by_pipeline else "",
            bucket.currency,
        )
        line = lines.get(key)
        if line is None:
            line = lines[key] = ForecastLine(LineKey(*key))
        line.add(bucket)
    return [lines[key] for key in sorted(lines)]


def _decimal(nanos: int) -> Decimal:
    # The string form is exact whatever the context's precision.
    return Decimal(f"{nanos}e-9")
