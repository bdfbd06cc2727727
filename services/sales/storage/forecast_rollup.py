"""The forecast's roll-up, kept current on every write of a deal.

`forecast_rollup` sums the deals a forecast counts per calendar month (of the
expected close date for open deals, of the UTC close time for won ones),
owner, pipeline, currency, state and forecast category: how many, their
amounts and their probability-weighted amounts, all as exact integers
(google.type.Money's parts, the weighted ones times the probability in
percent, divided once when read). A forecast over whole months then sums a
few thousand small rows however many deals there are.

The opportunity repository (crm_sales.storage.opportunities) moves a deal from
its previous cell to its new one in the same transaction, as it commits
(crm_sales.storage.rollup_deltas). A change of a
stage's default probability changes many open deals at once: the repository
then sums that pipeline's cells afresh inside UpdatePipeline's transaction.
Migration 0010 backfills the table with the same sums.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    Select,
    String,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_sales.domain.forecast import COUNTED_CATEGORIES, Bucket, LineKey, Period
from crm_sales.domain.money import NANOS_PER_UNIT
from crm_sales.domain.opportunities import ForecastCategory, State
from crm_sales.storage.rollup_deltas import Rollup, add_deltas, write_pending
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

FORECAST = Rollup(forecast_rollup, KEY_COLUMNS, SUM_COLUMNS)

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

    async def move(self, old: Cell | None, new: Cell | None) -> None:
        """Takes a deal out of its `old` cell and into its `new` one when the
        transaction commits (crm_sales.storage.rollup_deltas)."""
        deltas = []
        for cell, sign in ((old, -1), (new, 1)):
            if cell is not None:
                key, sums = cell
                deltas.append((key, [sign * value for value in sums]))
        await add_deltas(self._session, FORECAST, deltas)

    async def clear(self, pipeline_id: str | None = None) -> None:
        """Empties the cells of one pipeline (or all), before they are summed afresh
        (OpportunityRepository.rebuild_forecast_rollup)."""
        await write_pending(self._session)
        await self._session.execute(
            delete(forecast_rollup).where(
                true() if pipeline_id is None else rollup.pipeline_id == pipeline_id
            )
        )

    async def lines(
        self,
        first_month: date,
        last_month: date,
        period: Period,
        *,
        by_owner: bool,
        by_pipeline: bool,
    ) -> list[Bucket]:
        """The cells of the whole months `first_month` to `last_month` summed per
        line: period (and owner, pipeline when asked) and currency."""
        statement = _rollup_lines(period, by_owner=by_owner, by_pipeline=by_pipeline)
        await write_pending(self._session)
        months = {"first_month": month_number(first_month), "last_month": month_number(last_month)}
        return line_buckets((await self._session.execute(statement, months)).all())


@cache
def _rollup_lines(period: Period, *, by_owner: bool, by_pipeline: bool) -> Select[Any]:
    """Built once per shape, the months bound at each call: building the
    statement costs more than running it."""
    cells = select(
        _period_month(period).label("period"),
        (rollup.owner if by_owner else literal("")).label("owner"),
        (rollup.pipeline_id if by_pipeline else literal("")).label("pipeline_id"),
        rollup.currency_code,
        rollup.state,
        rollup.forecast_category,
        *(rollup[name] for name in SUM_COLUMNS),
    ).where(
        rollup.month.between(bindparam("first_month"), bindparam("last_month")),
        rollup.deal_count != 0,
    )
    return forecast_lines(cells.subquery(), by_owner=by_owner)


def _period_month(period: Period) -> ColumnElement[int]:
    """The roll-up's month number, or that of the first month of its quarter."""
    if period is Period.MONTH:
        return rollup.month
    return rollup.month - (rollup.month % 100 - 1) % 3


def forecast_lines(source: Subquery, *, by_owner: bool) -> Select[Any]:
    """`source`'s rows (roll-up cells, or deals counted once each, with the
    columns of `_rollup_lines`' cells) summed per line: period, owner,
    pipeline, currency. Which deals each sum holds is for the domain to weigh
    (crm_sales.domain.forecast.ForecastLine); sums come back as BIGINT, which
    the roll-up's own cells are.

    Without a split by owner, tens of thousands of cells fold into a few
    dozen lines: they are summed per state and category first, so that the
    conditional sums run over a few hundred rows. Split by owner, lines hold
    a few cells each and one pass is cheaper."""
    if not by_owner:
        source = _per_state_and_category(source)
    cell = source.c
    won = cell.state == int(State.WON)

    def open_in(*categories: ForecastCategory) -> ColumnElement[bool]:
        return and_(
            cell.state == int(State.OPEN),
            cell.forecast_category.in_([int(category) for category in categories]),
        )

    def total(where: ColumnElement[bool], column: ColumnElement[Any]) -> ColumnElement[int]:
        return cast(func.sum(case((where, column), else_=0)), BigInteger)

    counted = open_in(*COUNTED_CATEGORIES)
    keys = [cell.period, cell.owner, cell.pipeline_id, cell.currency_code]
    return select(
        *keys,
        total(won, cell.deal_count),
        total(won, cell.amount_units),
        total(won, cell.amount_nanos),
        total(counted, cell.deal_count),
        total(counted, cell.weighted_units),
        total(counted, cell.weighted_nanos),
        *(
            total(open_in(category), column)
            for category in COUNTED_CATEGORIES
            for column in (cell.amount_units, cell.amount_nanos)
        ),
    ).group_by(*keys)


def _per_state_and_category(source: Subquery) -> Subquery:
    cell = source.c
    keys = [cell[name] for name in ("period", *KEY_COLUMNS[1:])]
    return (
        select(
            *keys,
            *(cast(func.sum(cell[name]), BigInteger).label(name) for name in SUM_COLUMNS),
        )
        .group_by(*keys)
        .subquery()
    )


def line_buckets(rows: Iterable[Sequence[Any]]) -> list[Bucket]:
    """The rows of a `forecast_lines` statement as the domain's buckets. Units
    and nanos become nanos as `nanos_of` does, inlined: five a line, thousands
    of lines a call."""
    starts: dict[int, date] = {}
    buckets = []
    for (
        period,
        owner,
        pipeline_id,
        currency,
        won_count,
        won_units,
        won_nanos,
        open_count,
        weighted_units,
        weighted_nanos,
        pipeline_units,
        pipeline_nanos,
        best_case_units,
        best_case_nanos,
        commit_units,
        commit_nanos,
    ) in rows:
        start = starts.get(period)
        if start is None:
            start = starts[period] = date(period // 100, period % 100, 1)
        buckets.append(
            Bucket(
                LineKey(start, owner, pipeline_id, currency),
                won_count,
                won_units * NANOS_PER_UNIT + won_nanos,
                open_count,
                weighted_units * NANOS_PER_UNIT + weighted_nanos,
                pipeline_units * NANOS_PER_UNIT + pipeline_nanos,
                best_case_units * NANOS_PER_UNIT + best_case_nanos,
                commit_units * NANOS_PER_UNIT + commit_nanos,
            )
        )
    return buckets
