"""The funnel's summaries, kept current on every write of a deal.

`opportunity_reach` holds one row per deal and pipeline it ever entered: the
furthest stage position it reached there, its state in its current pipeline
(ELSEWHERE in those it left) and, while open, its stage, with the amount and
the creation day the funnel sums and filters on. `funnel_rollup` adds those
rows up per pipeline, creation day (UTC), furthest position, stage, state and
currency, so a funnel over any range of whole days sums a few thousand small
rows however many deals there are.

The opportunity repository rewrites a deal's reach rows with the deal and
moves the roll-up by the difference, in the same transaction, as it commits
(crm_sales.storage.rollup_deltas). Reordering a pipeline's stages changes
what "furthest" means for all its deals: the repository then recomputes the
pipeline's reach rows from the stage history and `rebuild`s its roll-up,
inside UpdatePipeline's transaction (rare and administrative; the funnel
never reads stale positions). Migration 0009 runs the same statements as its
backfill.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_sales.domain.money import to_units_nanos
from crm_sales.domain.opportunities import Opportunity, State
from crm_sales.domain.reports import DayRange, furthest_reached
from crm_sales.storage.rollup_deltas import Rollup, add_deltas, write_pending
from crm_sales.storage.tables import metadata

# The state of a deal's reach row in a pipeline it has left.
ELSEWHERE = 0

opportunity_reach = Table(
    "opportunity_reach",
    metadata,
    Column(
        "opportunity_id",
        String(63),
        ForeignKey("opportunities.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("pipeline_id", String(63), primary_key=True),
    # Board position of the furthest stage the deal entered in this pipeline.
    Column("furthest_position", Integer, nullable=False),
    # The deal's stage while it is open in this pipeline, else "".
    Column("stage_id", String(63), nullable=False),
    Column("state", Integer, nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("amount_nanos", Integer, nullable=False),
    # The UTC day the deal was created.
    Column("create_day", Date, nullable=False),
    # A reorder recomputes a pipeline's rows.
    Index("ix_opportunity_reach_pipeline", "pipeline_id"),
)

# What identifies a roll-up row besides its pipeline and day.
CELL_COLUMNS = ("furthest_position", "stage_id", "state", "currency_code")
KEY_COLUMNS = ("pipeline_id", "create_day", *CELL_COLUMNS)

funnel_rollup = Table(
    "funnel_rollup",
    metadata,
    Column("pipeline_id", String(63), primary_key=True),
    Column("create_day", Date, primary_key=True),
    Column("furthest_position", Integer, primary_key=True),
    Column("stage_id", String(63), primary_key=True),
    Column("state", Integer, primary_key=True),
    Column("currency_code", String(3), primary_key=True),
    Column("deal_count", BigInteger, nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("amount_nanos", BigInteger, nullable=False),
)

reach = opportunity_reach.c
rollup = funnel_rollup.c

_INSERT_REACH = insert(opportunity_reach)
_REACH_OF = select(opportunity_reach).where(reach.opportunity_id == bindparam("opportunity_id"))

FUNNEL = Rollup(funnel_rollup, KEY_COLUMNS, ("deal_count", "amount_units", "amount_nanos"))


def reach_rows(
    opportunity: Opportunity, positions: Mapping[str, Mapping[str, int]]
) -> list[dict[str, Any]]:
    """The deal's reach rows; `positions` gives each stage's board position in
    every pipeline of its history (stage id -> position, per pipeline id)."""
    units, nanos = to_units_nanos(opportunity.details.value.amount)
    rows = []
    for pipeline_id, furthest in sorted(
        furthest_reached(opportunity.stage_history, positions).items()
    ):
        current = pipeline_id == opportunity.pipeline_id
        rows.append(
            {
                "opportunity_id": opportunity.id,
                "pipeline_id": pipeline_id,
                "furthest_position": furthest,
                "stage_id": (
                    opportunity.stage_id if current and opportunity.state is State.OPEN else ""
                ),
                "state": int(opportunity.state) if current else ELSEWHERE,
                "currency_code": opportunity.details.value.currency,
                "amount_units": units,
                "amount_nanos": nanos,
                "create_day": opportunity.create_time.astimezone(UTC).date(),
            }
        )
    return rows


class FunnelRollup:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def reach_of(self, opportunity_id: str) -> list[dict[str, Any]]:
        rows = await self._session.execute(_REACH_OF, {"opportunity_id": opportunity_id})
        return [dict(row._mapping) for row in rows.all()]

    async def replace(
        self, opportunity_id: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
    ) -> None:
        """Swaps a deal's reach rows `old` for `new` and moves the roll-up by the
        difference; nothing is written when they are the same."""
        if old == new:
            return
        if old:
            await self._session.execute(
                delete(opportunity_reach).where(reach.opportunity_id == opportunity_id)
            )
        if new:
            await self._session.execute(_INSERT_REACH, new)
        await add_deltas(self._session, FUNNEL, _deltas(old, new))

    async def rebuild(self, pipeline_id: str | None = None) -> None:
        """The roll-up of one pipeline (or all) summed afresh from the reach rows."""
        await write_pending(self._session)
        await self._session.execute(
            delete(funnel_rollup).where(
                true() if pipeline_id is None else rollup.pipeline_id == pipeline_id
            )
        )
        await self._session.execute(rebuild_statement(pipeline_id))

    async def cells(self, pipeline_id: str, created: DayRange | None) -> list[Any]:
        """The pipeline's roll-up summed over the creation days asked for, per
        furthest position, stage, state and currency; empty cells left out."""
        keys = [rollup[name] for name in CELL_COLUMNS]
        query = (
            select(
                *keys,
                func.sum(rollup.deal_count).label("count"),
                func.sum(rollup.amount_units).label("units"),
                func.sum(rollup.amount_nanos).label("nanos"),
            )
            .where(rollup.pipeline_id == pipeline_id)
            .group_by(*keys)
            .having(func.sum(rollup.deal_count) != 0)
        )
        if created is not None:
            query = query.where(rollup.create_day.between(created.first, created.last))
        await write_pending(self._session)
        return list((await self._session.execute(query)).all())


def rebuild_statement(pipeline_id: str | None) -> Any:
    """INSERT INTO funnel_rollup the reach rows (of one pipeline) summed per cell."""
    keys = [reach[name] for name in KEY_COLUMNS]
    summed = select(
        *keys,
        func.count(),
        func.sum(reach.amount_units),
        func.sum(reach.amount_nanos),
    ).group_by(*keys)
    if pipeline_id is not None:
        summed = summed.where(reach.pipeline_id == pipeline_id)
    return insert(funnel_rollup).from_select(
        [*KEY_COLUMNS, "deal_count", "amount_units", "amount_nanos"], summed
    )


def _deltas(
    old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]
) -> list[tuple[tuple[Any, ...], list[int]]]:
    """(count, units, nanos) to add per roll-up cell."""
    deltas: dict[tuple[Any, ...], list[int]] = {}
    for rows, sign in ((old, -1), (new, 1)):
        for row in rows:
            key = tuple(row[name] for name in KEY_COLUMNS)
            delta = deltas.setdefault(key, [0, 0, 0])
            delta[0] += sign
            delta[1] += sign * row["amount_units"]
            delta[2] += sign * row["amount_nanos"]
    return list(deltas.items())
