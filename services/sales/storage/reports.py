"""The SQL behind forecasts and sales reports: deals summed into a few grouped rows.

Reads the opportunity tables (crm_sales.storage.opportunities) and never
writes. Amounts are summed as google.type.Money's integer parts, so the sums
are exact on both backends; `effective_probability` and `forecast_category`
are stored current on every deal, so the forecast needs no join.

Periods: statements group by calendar year and month (UTC) and the domain
folds months into quarters, which keeps the SQL the same on both backends.
PostgreSQL takes the month of a timestamp in its session time zone, so close
times are shifted to UTC first; SQLite stores them as UTC already.

Grouped expressions are computed in a subquery and grouped by its columns:
PostgreSQL does not see a bound parameter in SELECT and another in GROUP BY
as the same expression.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Interval,
    Select,
    and_,
    bindparam,
    cast,
    extract,
    func,
    literal,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.filtering import Expr
from crm_common.storage.filter_sql import filter_clause
from crm_sales.domain.forecast import Bucket, Period, period_start
from crm_sales.domain.money import NANOS
from crm_sales.domain.opportunities import State
from crm_sales.domain.reports import (
    ClosedBucket,
    CurrentStage,
    DayRange,
    DurationSummary,
    FunnelFigures,
    FurthestStage,
    ReasonBucket,
    summarise,
)
from crm_sales.storage.close_reasons import close_reasons
from crm_sales.storage.forecast_rollup import ForecastRollup, forecast_lines, line_buckets
from crm_sales.storage.funnel import FunnelRollup
from crm_sales.storage.opportunities import (
    FILTER_BINDINGS,
    opportunities,
    opportunity_stage_history,
)

_CLOSED = [int(State.WON), int(State.LOST)]
deals = opportunities.c
history = opportunity_stage_history.c


class ReportQueries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    async def _rows(self, statement: Select[Any]) -> list[Any]:
        return list((await self._session.execute(statement)).all())

    async def _snapshot(self) -> None:
        """One snapshot for a report's several statements, so its figures agree."""
        if self._postgres:
            await self._session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    # Forecast

    async def forecast_buckets(
        self,
        days: DayRange,
        period: Period,
        expr: Expr | None,
        *,
        by_owner: bool,
        by_pipeline: bool,
    ) -> list[Bucket]:
        """Open deals by expected close date and won deals by close day, summed per
        line: period and currency (and owner, pipeline when asked).

        Without a filter, the whole months of the range are read from the
        forecast roll-up (crm_sales.storage.forecast_rollup) and only the days
        of months the range cuts from the deals; a filter needs the deals. A
        line can then come in two buckets, one from each."""
        await self._snapshot()
        buckets: list[Bucket] = []
        edges = [days]
        if expr is None:
            edges, months = whole_months(days)
            if months is not None:
                buckets += await ForecastRollup(self._session).lines(
                    *months, period, by_owner=by_owner, by_pipeline=by_pipeline
                )
            statement = _unfiltered_deal_lines(
                self._postgres, period, by_owner=by_owner, by_pipeline=by_pipeline
            )
        else:
            statement = _deal_lines(
                filter_clause(expr, FILTER_BINDINGS),
                self._postgres,
                period,
                by_owner=by_owner,
                by_pipeline=by_pipeline,
            )
        for edge in edges:
            bounds = {
                "forecast_first_day": edge.first,
                "forecast_last_day": edge.last,
                "forecast_start": edge.start,
                "forecast_end": edge.end,
            }
            buckets += line_buckets((await self._session.execute(statement, bounds)).all())
        return buckets

    # Funnel

    async def funnel_figures(self, pipeline_id: str, created: DayRange | None) -> FunnelFigures:
        """From the pipeline's roll-up (crm_sales.storage.funnel): deals that were
        ever in it by furthest stage, its open deals by stage, its closed ones."""
        furthest: dict[tuple[int, str], list[int]] = {}
        current: dict[tuple[str, str], list[int]] = {}
        closed: dict[tuple[int, str], list[int]] = {}
        for cell in await FunnelRollup(self._session).cells(pipeline_id, created):
            sums = (cell.count, cell.units, cell.nanos)
            _add_sums(furthest, (cell.furthest_position, cell.currency_code), sums)
            if cell.state == State.OPEN:
                _add_sums(current, (cell.stage_id, cell.currency_code), sums)
            elif cell.state in _CLOSED:
                _add_sums(closed, (cell.state, cell.currency_code), sums)
        return FunnelFigures(
            furthest=[
                FurthestStage(position, code, count, _amount(units, nanos))
                for (position, code), (count, units, nanos) in sorted(furthest.items())
            ],
            current=[
                CurrentStage(stage_id, code, count, _amount(units, nanos))
                for (stage_id, code), (count, units, nanos) in sorted(current.items())
            ],
            closed=[
                (State(state), code, count, _amount(units, nanos))
                for (state, code), (count, units, nanos) in sorted(closed.items())
            ],
        )

    # Time in stage

    async def stage_durations(self, pipeline_id: str) -> dict[str, DurationSummary]:
        """Per stage of the pipeline, its visits that have ended."""
        ended = and_(history.pipeline_id == pipeline_id, history.leave_time.is_not(None))
        if self._postgres:
            spent = type_coerce(history.leave_time - history.enter_time, Interval)
            statement = (
                select(
                    history.stage_id,
                    func.count(),
                    type_coerce(func.avg(spent), Interval),
                    type_coerce(
                        func.percentile_cont(literal(0.5, Float)).within_group(spent), Interval
                    ),
                )
                .where(ended)
                .group_by(history.stage_id)
            )
            return {
                row[0]: DurationSummary(row[1], row[2], row[3])
                for row in await self._rows(statement)
            }
        # SQLite (development) has no percentile: the durations are summarised here.
        visits = select(history.stage_id, history.enter_time, history.leave_time).where(ended)
        durations: dict[str, list[timedelta]] = {}
        for row in await self._rows(visits):
            durations.setdefault(row.stage_id, []).append(row.leave_time - row.enter_time)
        return {stage_id: summarise(spans) for stage_id, spans in durations.items()}

    # Closed deals: win rate and reasons

    async def closed_buckets(
        self, days: DayRange, period: Period, expr: Expr | None, *, by_owner: bool
    ) -> list[ClosedBucket]:
        inner = select(
            *_periods(_utc(deals.close_time, self._postgres), period),
            (deals.owner if by_owner else literal("")).label("owner"),
            deals.state,
            deals.currency_code,
            deals.amount_units,
            deals.amount_nanos,
        ).where(self._closed_in(days, expr))
        sub = inner.subquery()
        keys = [sub.c.year, sub.c.month, sub.c.owner, sub.c.state, sub.c.currency_code]
        statement = select(
            *keys,
            func.count().label("count"),
            func.sum(sub.c.amount_units).label("units"),
            func.sum(sub.c.amount_nanos).label("nanos"),
        ).group_by(*keys)
        return [
            ClosedBucket(
                period_start(date(int(row.year), int(row.month), 1), period),
                row.owner,
                State(row.state),
                row.currency_code,
                row.count,
                _amount(row.units, row.nanos),
            )
            for row in await self._rows(statement)
        ]

    async def reason_buckets(self, days: DayRange, expr: Expr | None) -> list[ReasonBucket]:
        await self._snapshot()
        reason = func.coalesce(deals.close_reason_id, "")
        statement = (
            select(reason.label("reason"), deals.state, deals.currency_code, *_sums())
            .where(self._closed_in(days, expr))
            .group_by(reason, deals.state, deals.currency_code)
        )
        return [
            ReasonBucket(
                row.reason,
                State(row.state),
                row.currency_code,
                row.count,
                _amount(row.units, row.nanos),
            )
            for row in await self._rows(statement)
        ]

    async def reason_names(self, reason_ids: Sequence[str]) -> dict[str, str]:
        statement = select(close_reasons.c.id, close_reasons.c.display_name).where(
            close_reasons.c.id.in_(reason_ids)
        )
        return {row.id: row.display_name for row in await self._rows(statement)}

    def _closed_in(self, days: DayRange, expr: Expr | None) -> ColumnElement[bool]:
        return and_(
            filter_clause(expr, FILTER_BINDINGS),
            deals.state.in_(_CLOSED),
            deals.close_time >= days.start,
            deals.close_time < days.end,
        )


@cache
def _unfiltered_deal_lines(
    postgres: bool, period: Period, *, by_owner: bool, by_pipeline: bool
) -> Select[Any]:
    """Built once per shape: building the statement costs more than running it."""
    return _deal_lines(true(), postgres, period, by_owner=by_owner, by_pipeline=by_pipeline)


def _deal_lines(
    scope: ColumnElement[bool],
    postgres: bool,
    period: Period,
    *,
    by_owner: bool,
    by_pipeline: bool,
) -> Select[Any]:
    """The deals in `scope` a forecast counts, summed per line, each as a
    roll-up cell of one deal: open ones expected to close from
    `forecast_first_day` to `forecast_last_day`, won ones closed from
    `forecast_start` to `forecast_end` (bound at each call)."""
    open_deals = and_(
        scope,
        deals.state == int(State.OPEN),
        deals.expected_close_date >= bindparam("forecast_first_day"),
        deals.expected_close_date <= bindparam("forecast_last_day"),
    )
    won_deals = and_(
        scope,
        deals.state == int(State.WON),
        deals.close_time >= bindparam("forecast_start"),
        deals.close_time < bindparam("forecast_end"),
    )
    cells = union_all(
        *(
            select(
                _period_month(day, period).label("period"),
                (deals.owner if by_owner else literal("")).label("owner"),
                (deals.pipeline_id if by_pipeline else literal("")).label("pipeline_id"),
                deals.currency_code,
                deals.state,
                deals.forecast_category,
                literal(1, BigInteger).label("deal_count"),
                deals.amount_units,
                deals.amount_nanos,
                (deals.amount_units * deals.effective_probability).label("weighted_units"),
                # Nanos times percent passes 2^31: PostgreSQL's INTEGER product would overflow.
                (cast(deals.amount_nanos, BigInteger) * deals.effective_probability).label(
                    "weighted_nanos"
                ),
            ).where(where)
            for where, day in (
                (open_deals, deals.expected_close_date),
                (won_deals, _utc(deals.close_time, postgres)),
            )
        )
    )
    return forecast_lines(cells.subquery(), by_owner=by_owner)


def _utc(instant: ColumnElement[Any], postgres: bool) -> ColumnElement[Any]:
    return func.timezone("UTC", instant) if postgres else instant


def whole_months(days: DayRange) -> tuple[list[DayRange], tuple[date, date] | None]:
    """The range split into the days of the months it cuts (at most one at each
    end) and the first days of its first and last whole months (None if none)."""
    first = days.first if days.first.day == 1 else _next_month(days.first)
    month_end = _next_month(days.last) - timedelta(days=1)
    last = days.last if days.last == month_end else days.last.replace(day=1) - timedelta(days=1)
    if first > last:
        return [days], None
    edges = []
    if days.first < first:
        edges.append(DayRange(days.first, first - timedelta(days=1)))
    if last < days.last:
        edges.append(DayRange(last + timedelta(days=1), days.last))
    return edges, (first, last.replace(day=1))


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _periods(day: ColumnElement[Any], period: Period) -> list[ColumnElement[int]]:
    """The year and the first month of the period `day` falls in: the database
    sums whole periods, so it returns about as many rows as the report has lines."""
    month = cast(extract("month", day), Integer)
    if period is Period.QUARTER:
        # `//` renders as integer division on both backends.
        month = (month - 1) // 3 * 3 + 1
    return [cast(extract("year", day), Integer).label("year"), month.label("month")]


def _period_month(day: ColumnElement[Any], period: Period) -> ColumnElement[int]:
    """The month number (year * 100 + month, as the roll-up keys months) of the
    period `day` falls in."""
    year, month = _periods(day, period)
    return year * 100 + month


def _sums() -> list[ColumnElement[Any]]:
    return [
        func.count().label("count"),
        func.sum(deals.amount_units).label("units"),
        func.sum(deals.amount_nanos).label("nanos"),
    ]


def _add_sums(sums: dict[Any, list[int]], key: Any, more: tuple[int, int, int]) -> None:
    total = sums.setdefault(key, [0, 0, 0])
    for index, value in enumerate(more):
        total[index] += int(value)


def _amount(units: int | Decimal | None, nanos: int | Decimal | None) -> Decimal:
    return Decimal(units or 0) + Decimal(nanos or 0) * NANOS
