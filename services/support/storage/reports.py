"""The SQL behind ticket reports: counts per local day, backlog, medians, SLA and CSAT tallies.

Every figure is aggregated in the database, so a report reads a handful of
grouped rows whatever the number of tickets. Two things differ by backend:

- Local days: an instant's day is the UTC date of the instant plus the zone's
  offset, which `ReportPeriod.offsets` gives per span of the range (a CASE
  when the range crosses a DST change). SQLite shifts with `date(t, 'N
  seconds')`, PostgreSQL with an interval; neither needs the database's own
  time zone data.
- Medians: PostgreSQL has `percentile_cont`. SQLite ranks the durations with
  window functions and averages the middle one or two, per key. Durations
  are whole microseconds on both, so both agree to the microsecond.

SQLite's date functions round to milliseconds (23:59:59.9999 would become
the next day), so they are given the stored text `YYYY-MM-DD HH:MM:SS.ffffff`
cut to whole seconds; microseconds come from the text. Offsets are whole
seconds, so cutting never moves an instant to another day.

Statements group by expressions that hold bound parameters (offsets, JSON
paths) through a subquery: PostgreSQL does not see `$1` in SELECT and `$5` in
GROUP BY as the same expression.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    Float,
    Index,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    extract,
    func,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.filtering import Expr
from crm_common.storage.filter_sql import filter_clause
from crm_support.domain.reports import (
    RESOLVED,
    UNSOLVED,
    Grouping,
    Key,
    Middle,
    OffsetSpan,
    ReportCounts,
    ReportPeriod,
    SlaOutcome,
)
from crm_support.domain.sla_state import SlaMetric
from crm_support.domain.tickets import AGENTS, GROUPS, SatisfactionScore, TicketStatus
from crm_support.storage.tickets import FILTER_BINDINGS, tickets

# Tickets solved per day are found by their solve time (migration 0010).
Index("ix_tickets_solve_time", tickets.c.solve_time)

# Where each grouping finds its key: a ticket's current assignee or group
# (bare ids in columns), or who was responsible when the requester rated
# (resource names in the rating).
_TICKET_KEYS = {
    Grouping.AGENT: (tickets.c.assignee_id, AGENTS),
    Grouping.GROUP: (tickets.c.group_id, GROUPS),
}
_RATING_KEYS = {Grouping.AGENT: "assignee", Grouping.GROUP: "group"}
# A ticket column holding the key and the prefix that makes it a name; None
# when the report is not broken down.
TicketKey = tuple[ColumnElement[str], str] | None

_MICROS = 1_000_000


@dataclass
class _Medians:
    """Medians per key (none without a key) and over every ticket."""

    first_response: dict[Key, Middle]
    resolution: dict[Key, Middle]
    total_first_response: Middle
    total_resolution: Middle


class ReportQueries:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"

    async def counts(
        self, period: ReportPeriod, expr: Expr | None, grouping: Grouping
    ) -> ReportCounts:
        """Everything a report counts, over the tickets `expr` lets through."""
        if self._postgres:
            # One snapshot for all the statements, so the figures agree.
            await self._session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        scope = filter_clause(expr, FILTER_BINDINGS)
        created = tickets.c.create_time
        cohort = and_(scope, created >= period.start, created < period.end)
        solved_in_range = and_(
            scope,
            tickets.c.status.in_([int(s) for s in RESOLVED]),
            tickets.c.solve_time >= period.start,
            tickets.c.solve_time < period.end,
        )
        key = _TICKET_KEYS.get(grouping)
        medians = await self._medians(cohort, key)
        return ReportCounts(
            created=await self._per_day(created, cohort, period, key),
            solved=await self._per_day(tickets.c.solve_time, solved_in_range, period, key),
            backlog=await self._backlog(scope, key),
            sla=await self._sla(cohort, key),
            satisfaction=await self._satisfaction(cohort, _RATING_KEYS.get(grouping)),
            first_response=medians.first_response,
            resolution=medians.resolution,
            total_first_response=medians.total_first_response,
            total_resolution=medians.total_resolution,
        )

    async def _rows(self, statement: Select[Any]) -> list[Any]:
        return list((await self._session.execute(statement)).all())

    async def _per_day(
        self,
        instant: ColumnElement[Any],
        where: ColumnElement[bool],
        period: ReportPeriod,
        key: TicketKey,
    ) -> Counter[tuple[Key, date]]:
        day = self._local_day(instant, period.offsets).label("day")
        inner = select(*_key_column(key), day).where(where).subquery()
        keys = _inner_keys(inner, key)
        statement = select(*keys, inner.c.day, func.count()).group_by(*keys, inner.c.day)
        return Counter(
            {
                (_key_name(row, key), _as_date(row.day)): row[-1]
                for row in await self._rows(statement)
            }
        )

    async def _backlog(
        self, scope: ColumnElement[bool], key: TicketKey
    ) -> Counter[tuple[Key, TicketStatus]]:
        keys = _key_column(key)
        status = tickets.c.status
        statement = (
            select(*keys, status, func.count())
            .where(scope, status.in_([int(s) for s in UNSOLVED]))
            .group_by(*keys, status)
        )
        return Counter(
            {
                (_key_name(row, key), TicketStatus(row.status)): row[-1]
                for row in await self._rows(statement)
            }
        )

    async def _medians(self, cohort: ColumnElement[bool], key: TicketKey) -> _Medians:
        """Medians of first-response and resolution times, per key and in total."""
        first_response = self._microseconds(tickets.c.first_response_time, tickets.c.create_time)
        resolution = case(
            (
                tickets.c.status.in_([int(s) for s in RESOLVED]),
                self._microseconds(tickets.c.solve_time, tickets.c.create_time),
            )
        )
        if self._postgres:
            return await self._percentiles(cohort, key, first_response, resolution)
        totals = (
            await self._ranked_middle(cohort, None, first_response),
            await self._ranked_middle(cohort, None, resolution),
        )
        by_key = (
            (
                await self._ranked_middle(cohort, key, first_response),
                await self._ranked_middle(cohort, key, resolution),
            )
            if key is not None
            else ({}, {})
        )
        return _Medians(*by_key, totals[0][""], totals[1][""])

    async def _percentiles(
        self,
        cohort: ColumnElement[bool],
        key: TicketKey,
        first_response: ColumnElement[int],
        resolution: ColumnElement[int],
    ) -> _Medians:
        """One pass: per key and (grouping sets) in total; NULLs are skipped."""
        aggregates = [
            aggregate
            for duration in (first_response, resolution)
            for aggregate in (
                func.count(duration),
                func.percentile_cont(literal(0.5, Float)).within_group(cast(duration, Float)),
            )
        ]
        if key is None:
            row = (await self._session.execute(select(*aggregates).where(cohort))).one()
            return _Medians({}, {}, Middle(row[0], row[1]), Middle(row[2], row[3]))
        column = key[0]
        statement = (
            select(column.label("key"), func.grouping(column), *aggregates)
            .where(cohort)
            .group_by(func.grouping_sets(tuple_(column), tuple_()))
        )
        medians = _Medians({}, {}, Middle(0, None), Middle(0, None))
        for row in await self._rows(statement):
            first, second = Middle(row[2], row[3]), Middle(row[4], row[5])
            if row[1]:  # the () grouping set: every ticket
                medians.total_first_response, medians.total_resolution = first, second
            else:
                name = _key_name(row, key)
                medians.first_response[name], medians.resolution[name] = first, second
        return medians

    async def _ranked_middle(
        self,
        cohort: ColumnElement[bool],
        key: TicketKey,
        duration: ColumnElement[int],
    ) -> dict[Key, Middle]:
        partition = [key[0]] if key is not None else None
        ranked = (
            select(
                *_key_column(key),
                duration.label("duration"),
                func.row_number().over(partition_by=partition, order_by=duration).label("rank"),
                func.count().over(partition_by=partition).label("size"),
            )
            .where(cohort, duration.is_not(None))
            .subquery()
        )
        keys = _inner_keys(ranked, key)
        # The middle value for an odd size, the middle two for an even one.
        middle = ranked.c.rank.between((ranked.c.size + 1) // 2, (ranked.c.size + 2) // 2)
        statement = (
            select(*keys, func.max(ranked.c.size), func.avg(ranked.c.duration))
            .where(middle)
            .group_by(*keys)
        )
        found = _empty_middle(key)
        for row in await self._rows(statement):
            found[_key_name(row, key)] = Middle(row[-2], row[-1])
        return found

    async def _sla(
        self, cohort: ColumnElement[bool], key: TicketKey
    ) -> Counter[tuple[Key, SlaOutcome]]:
        target, metric, breached, fulfilled = self._sla_targets()
        outcome = case((breached, False), (fulfilled.is_not(None), True)).label("met")
        inner = (
            select(*_key_column(key), metric.label("metric"), outcome)
            .select_from(tickets.join(target, true()))
            .where(cohort)
            .subquery()
        )
        keys = _inner_keys(inner, key)
        statement = (
            select(*keys, inner.c.metric, inner.c.met, func.count())
            .where(inner.c.met.is_not(None))
            .group_by(*keys, inner.c.metric, inner.c.met)
        )
        return Counter(
            {
                (_key_name(row, key), SlaOutcome(SlaMetric(row.metric), bool(row.met))): row[-1]
                for row in await self._rows(statement)
            }
        )

    def _sla_targets(
        self,
    ) -> tuple[Any, ColumnElement[int], ColumnElement[bool], ColumnElement[str]]:
        """A ticket's SLA targets as rows: the FROM item, and its metric, breached and
        fulfill_time."""
        if self._postgres:
            # Parses each ticket's JSON once into typed columns; `->>` on a json
            # value would parse the element again for every field (15 us a target).
            rows = (
                func.json_to_recordset(tickets.c.sla_targets)
                .table_valued(
                    column("metric", Integer),
                    column("breached", Boolean),
                    column("fulfill_time", String),
                )
                .render_derived(name="target", with_types=True)
            )
            return rows, rows.c.metric, rows.c.breached, rows.c.fulfill_time
        each = func.json_each(tickets.c.sla_targets).table_valued(column("value", JSON))
        value = each.c.value
        return (
            each,
            value["metric"].as_integer(),
            value["breached"].as_boolean(),
            value["fulfill_time"].as_string(),
        )

    async def _satisfaction(
        self, cohort: ColumnElement[bool], rating_key: str | None
    ) -> Counter[tuple[Key, SatisfactionScore]]:
        score = tickets.c.satisfaction_score
        who = (
            [tickets.c.satisfaction[rating_key].as_string().label("key")]
            if rating_key is not None
            else []
        )
        inner = select(*who, score.label("score")).where(cohort, score.is_not(None)).subquery()
        keys = [inner.c.key] if rating_key is not None else []
        statement = select(*keys, inner.c.score, func.count()).group_by(*keys, inner.c.score)
        return Counter(
            {
                # A rating holds names already; "" when nobody was assigned.
                ((row.key or "") if rating_key else "", SatisfactionScore(row.score)): row[-1]
                for row in await self._rows(statement)
            }
        )

    def _local_day(
        self, instant: ColumnElement[Any], offsets: tuple[OffsetSpan, ...]
    ) -> ColumnElement[Any]:
        seconds = _offset_seconds(instant, offsets)
        if self._postgres:
            shifted = func.timezone("UTC", instant) + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
            return cast(shifted, Date)
        return func.date(_whole_seconds(instant), cast(seconds, String) + " seconds")

    def _microseconds(
        self, later: ColumnElement[Any], earlier: ColumnElement[Any]
    ) -> ColumnElement[int]:
        """`later - earlier` in whole microseconds; NULL when either is."""
        if self._postgres:
            return cast(extract("epoch", later - earlier) * _MICROS, BigInteger)

        def seconds(instant: ColumnElement[Any]) -> ColumnElement[int]:
            return cast(func.strftime("%s", _whole_seconds(instant)), Integer)

        def micros(instant: ColumnElement[Any]) -> ColumnElement[int]:
            return cast(func.substr(instant, 21, 6), Integer)

        return (seconds(later) - seconds(earlier)) * _MICROS + (micros(later) - micros(earlier))


def _whole_seconds(instant: ColumnElement[Any]) -> ColumnElement[str]:
    """SQLite: the stored `YYYY-MM-DD HH:MM:SS.ffffff` without its fraction."""
    return func.substr(instant, 1, 19)


def _offset_seconds(
    instant: ColumnElement[Any], offsets: tuple[OffsetSpan, ...]
) -> ColumnElement[int]:
    """The zone's offset at `instant`, in seconds, from the spans of the range."""
    seconds = [literal(int(span.offset.total_seconds()), Integer) for span in offsets]
    if len(offsets) == 1:
        return seconds[0]
    # Before each change, the offset of the span it ends.
    changes = [(instant < offsets[n + 1].start, seconds[n]) for n in range(len(offsets) - 1)]
    return case(*changes, else_=seconds[-1])


def _key_column(key: TicketKey) -> list[ColumnElement[str]]:
    return [key[0].label("key")] if key is not None else []


def _inner_keys(inner: Any, key: TicketKey) -> list[Any]:
    return [inner.c.key] if key is not None else []


def _key_name(row: Any, key: TicketKey) -> Key:
    if key is None or not row.key:
        return ""
    return key[1] + row.key


def _empty_middle(key: TicketKey) -> dict[Key, Middle]:
    # Without a key there is always one (total) row, even over no tickets.
    return {} if key is not None else {"": Middle(0, None)}


def _as_date(value: date | str) -> date:
    # PostgreSQL hands back dates, SQLite ISO text.
    return value if isinstance(value, date) else date.fromisoformat(value)
