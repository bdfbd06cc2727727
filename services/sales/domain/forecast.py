"""Forecasts: what the open and won deals of each period add up to.

The database sums deals into buckets (period, owner, pipeline, currency,
state, category); this module turns buckets into the figures sales managers
read, optionally converted into one currency. Everything stays Decimal.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from crm_sales.domain.money import ExchangeRates, Money
from crm_sales.domain.opportunities import ForecastCategory, State


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


def period_start(day: date, period: Period) -> date:
    month = day.month if period is Period.MONTH else 3 * ((day.month - 1) // 3) + 1
    return date(day.year, month, 1)


@dataclass(frozen=True)
class Bucket:
    """Deals summed by the database: open ones by expected close date, won ones by
    close date."""

    period_start: date
    owner: str
    pipeline_id: str
    currency: str
    state: State
    category: ForecastCategory
    amount: Decimal
    # The sum of amount * probability / 100.
    weighted: Decimal
    count: int


@dataclass(frozen=True)
class LineKey:
    period_start: date
    # Empty when the forecast is not split by owner or pipeline.
    owner: str
    pipeline_id: str
    currency: str


@dataclass
class ForecastLine:
    key: LineKey
    pipeline: Decimal = Decimal(0)
    best_case: Decimal = Decimal(0)
    commit: Decimal = Decimal(0)
    closed: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)
    open_count: int = 0
    won_count: int = 0

    def add(self, bucket: Bucket, amount: Decimal, weighted: Decimal) -> None:
        if bucket.state is State.WON:
            self.closed += amount
            self.commit += amount
            self.best_case += amount
            self.weighted += amount
            self.won_count += bucket.count
            return
        if bucket.state is not State.OPEN or bucket.category is ForecastCategory.OMITTED:
            return
        self.pipeline += amount
        self.weighted += weighted
        self.open_count += bucket.count
        if bucket.category in (ForecastCategory.COMMIT, ForecastCategory.BEST_CASE):
            self.best_case += amount
        if bucket.category is ForecastCategory.COMMIT:
            self.commit += amount


def forecast(
    buckets: Iterable[Bucket],
    *,
    by_owner: bool,
    by_pipeline: bool,
    rates: ExchangeRates | None = None,
) -> list[ForecastLine]:
    """One line per period (and owner, pipeline when asked), per currency unless
    `rates` converts everything into its base currency."""
    lines: dict[LineKey, ForecastLine] = {}
    for bucket in buckets:
        amount, weighted, currency = bucket.amount, bucket.weighted, bucket.currency
        if rates is not None:
            amount = rates.convert(Money(currency, amount)).amount
            weighted = rates.convert(Money(currency, weighted)).amount
            currency = rates.base
        key = LineKey(
            bucket.period_start,
            bucket.owner if by_owner else "",
            bucket.pipeline_id if by_pipeline else "",
            currency,
        )
        line = lines.get(key) or lines.setdefault(key, ForecastLine(key))
        line.add(bucket, amount, weighted)
    return sorted(
        lines.values(),
        key=lambda line: (
            line.key.period_start,
            line.key.owner,
            line.key.pipeline_id,
            line.key.currency,
        ),
    )
