"""The forecast's roll-up, kept current on every write of a deal.

`forecast_rollup` sums the deals a forecast counts per calendar month (of the
expected close date for open deals, of the UTC close time for won ones),
owner, pipeline, currency, state and forecast category: how many, their
amounts and their probability-weighted amounts, all as exact integers
(google.type.Money's parts, the weighted ones times the probability in
percent, divided once when read). A forecast over whole months then sums a
few thousand small rows however many deals there are.

The opportunity repository (crm_sales.storage.opportunities) moves a deal from
its previous cell to its new one in the same transaction. A change of a
stage's default probability changes many open deals at once: the repository
then sums that pipeline's cells afresh inside UpdatePipeline's transaction.
Migration 0010 backfills the table with the same sums.
"""

from collections.abc import Mapping
from datetime import UTC, date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    String,
    Table,
    delete,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_sales.domain.forecast import Bucket, Period
from crm_sales.domain.money import nanos_of
from crm_sales.domain.opportunities import ForecastCategory, State
from crm_sales.storage.tables import metadata

# What identifies a roll-up cell; `month` is year * 100 + month, e.g. 202602.
KEY_COLUMNS = ("month", "owner", "pipeline_id", "currency_code", "state", "forecast_category")
SUM_COLUMNS = ("deal_count", "amount_units", "amount_nanos", "weighted_units", "weighted_nanos")

forecast_rollup = Table(
    "forecast_rollup",
    metadata,
    Column("month", Integer, primary_key=True),
    Column("owner", String(128), primary_key=True),
    Column("pipeline_id", String(63), primary_key=True),
    Column("currency_code", String(3), primary_key=True),
    Column("state", Integer, primary_key=True),
    Column("forecast_category", Integer, primary_key=True),
    Column("deal_count", BigInteger, nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("amount_nanos", BigInteger, nullable=False),
    # Sums of amount_units and amount_nanos times effective_probability (percent).
    Column("weighted_units", BigInteger, nullable=False),
    Column("weighted_nanos", BigInteger, nullable=False),
)

rollup = forecast_rollup.c

Cell = tuple[tuple[Any, ...], tuple[int, ...]]


def month_number(day: date) -> int:
    return day.year * 100 + day.month


def forecast_cell(deal: Mapping[str, Any]) -> Cell | None:
    """The cell an opportunities row (as stored) counts in, with its sums; None
    for deals no forecast reads (lost, or open without an expected close date)."""
    state = deal["state"]
    if state == State.OPEN and deal["expected_close_date"] is not None:
        month = month_number(deal["expected_close_date"])
    elif state == State.WON and deal["close_time"] is not None:
        month = month_number(deal["close_time"].astimezone(UTC))
    else:
        return None
    units, nanos, percent = (
        deal["amount_units"],
        deal["amount_nanos"],
        deal["effective_probability"],
    )
    key = (
        month,
        deal["owner"],
        deal["pipeline_id"],
        deal["currency_code"],
        state,
        deal["forecast_category"],
    )
    return key, (1, units, nanos, units * percent, nanos * percent)


class ForecastRollup:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    async def move(self, old: Cell | None, new: Cell | None) -> None:
        """Takes a deal out of its `old` cell and into its `new` one; in key order,
        so that concurrent writers lock cells in the same order."""
        deltas: dict[tuple[Any, ...], list[int]] = {}
        for cell, sign in ((old, -1), (new, 1)):
            if cell is not None:
                key, sums = cell
                delta = deltas.setdefault(key, [0] * len(SUM_COLUMNS))
                for index, value in enumerate(sums):
                    delta[index] += sign * value
        for key, delta in sorted(deltas.items()):
            if any(delta):
                await self._add(key, delta)

    async def clear(self, pipeline_id: str | None = None) -> None:
        """Empties the cells of one pipeline (or all), before they are summed afresh
        (OpportunityRepository.rebuild_forecast_rollup)."""
        await self._session.execute(
            delete(forecast_rollup).where(
                true() if pipeline_id is None else rollup.pipeline_id == pipeline_id
            )
        )

    async def buckets(
        self,
        first_month: date,
        last_month: date,
        period: Period,
        *,
        by_owner: bool,
        by_pipeline: bool,
    ) -> list[Bucket]:
        """The cells of the whole months `first_month` to `last_month`, summed per
        period (and owner, pipeline when asked), currency, state and category."""
        inner = select(
            _period_month(period).label("period"),
            (rollup.owner if by_owner else literal("")).label("owner"),
            (rollup.pipeline_id if by_pipeline else literal("")).label("pipeline_id"),
            rollup.currency_code,
            rollup.state,
            rollup.forecast_category,
            *(rollup[name] for name in SUM_COLUMNS),
        ).where(
            rollup.month.between(month_number(first_month), month_number(last_month)),
            rollup.deal_count != 0,
        )
        sub = inner.subquery()
        keys = [sub.c[name] for name in ("period", *KEY_COLUMNS[1:])]
        statement = select(*keys, *(func.sum(sub.c[name]) for name in SUM_COLUMNS)).group_by(*keys)
        return [
            Bucket(
                period_start=date(row[0] // 100, row[0] % 100, 1),
                owner=row[1],
                pipeline_id=row[2],
                currency=row[3],
                state=State(row[4]),
                category=ForecastCategory(row[5]),
                amount_nanos=nanos_of(int(row[7]), int(row[8])),
                weighted_percent_nanos=nanos_of(int(row[9]), int(row[10])),
                count=int(row[6]),
            )
            for row in (await self._session.execute(statement)).all()
        ]

    async def _add(self, key: tuple[Any, ...], delta: list[int]) -> None:
        dialect = postgresql if self._postgres else sqlite
        statement = dialect.insert(forecast_rollup).values(
            **dict(zip(KEY_COLUMNS, key, strict=True)),
            **dict(zip(SUM_COLUMNS, delta, strict=True)),
        )
        added = statement.excluded
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=list(KEY_COLUMNS),
                set_={name: rollup[name] + added[name] for name in SUM_COLUMNS},
            )
        )


def _period_month(period: Period) -> ColumnElement[int]:
    """The roll-up's month number, or that of the first month of its quarter."""
    if period is Period.MONTH:
        return rollup.month
    return rollup.month - (rollup.month % 100 - 1) % 3
