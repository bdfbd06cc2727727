"""Forecasts: what the open and won deals of each period add up to.

The database sums the deals of each line (period, owner, pipeline, currency):
won deals, and open deals per forecast category; this module turns those sums
into the figures sales managers read. Amounts stay integers of nanos while
they are summed (exact, and far cheaper than Decimal); weighted sums carry the
probability percent too and are divided by 100 once, when a figure is read.
Conversion into one currency (crm_sales.domain.reports.Conversion) works on
the summed lines in Decimal.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from crm_sales.domain.money import divide_half_even
from crm_sales.domain.opportunities import ForecastCategory

# Weighted sums are nanos times the probability in percent.
PERCENT = 100
# The categories an open deal counts in; omitted deals count nowhere.
COUNTED_CATEGORIES = (
    ForecastCategory.PIPELINE,
    ForecastCategory.BEST_CASE,
    ForecastCategory.COMMIT,
)


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


def period_start(day: date, period: Period) -> date:
    month = day.month if period is Period.MONTH else 3 * ((day.month - 1) // 3) + 1
    return date(day.year, month, 1)


class LineKey(NamedTuple):
    """A tuple, so that thousands of keys hash and sort at C speed."""

    period_start: date
    # Empty when the forecast is not split by owner or pipeline.
    owner: str
    pipeline_id: str
    currency: str


class Bucket(NamedTuple):
    """The deals of one line summed by the database (all of them, or those of
    some of its days when the line is read from two sources): won deals, open
    deals of the counted categories, and their amounts per category. A tuple:
    thousands are made per forecast, at half a frozen dataclass's cost."""

    key: LineKey
    won_count: int
    won_nanos: int
    open_count: int
    # Open deals' amount nanos times probability percent.
    open_weighted_percent_nanos: int
    # Open deals' amounts in nanos, per forecast category.
    open_pipeline_nanos: int
    open_best_case_nanos: int
    open_commit_nanos: int


@dataclass(slots=True)
class ForecastLine:
    """One line's figures in integer nanos; the Decimal properties read them.

    The figures nest: closed (won deals) <= commit (plus open commit deals) <=
    best case (plus open best-case deals); pipeline is every open deal counted,
    weighted adds each open deal times its probability and each won deal whole."""

    key: LineKey
    pipeline_nanos: int = 0
    best_case_nanos: int = 0
    commit_nanos: int = 0
    closed_nanos: int = 0
    weighted_percent_nanos: int = 0
    open_count: int = 0
    won_count: int = 0

    def add(self, bucket: Bucket) -> None:
        won = bucket.won_nanos
        commit = won + bucket.open_commit_nanos
        best_case = commit + bucket.open_best_case_nanos
        self.closed_nanos += won
        self.commit_nanos += commit
        self.best_case_nanos += best_case
        self.pipeline_nanos += (
            bucket.open_pipeline_nanos + bucket.open_best_case_nanos + bucket.open_commit_nanos
        )
        self.weighted_percent_nanos += bucket.open_weighted_percent_nanos + won * PERCENT
        self.open_count += bucket.open_count
        self.won_count += bucket.won_count

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


def forecast(buckets: Iterable[Bucket]) -> list[ForecastLine]:
    """One line per key of the buckets, in key order."""
    lines: dict[LineKey, ForecastLine] = {}
    for bucket in buckets:
        line = lines.get(bucket.key)
        if line is None:
            line = lines[bucket.key] = ForecastLine(bucket.key)
        line.add(bucket)
    return [lines[key] for key in sorted(lines)]


def _decimal(nanos: int) -> Decimal:
    # The string form is exact whatever the context's precision.
    return Decimal(f"{nanos}e-9")
