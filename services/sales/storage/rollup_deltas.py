"""Roll-up deltas held back until just before a transaction commits.

Every write of a deal moves cells of the funnel and forecast roll-ups
(crm_sales.storage.funnel, crm_sales.storage.forecast_rollup) that many
concurrent writers share: the deals of one pipeline created on one day fall in
one funnel cell, those of one owner expected to close in one month in one
forecast cell. An upsert holds its cell's row lock until the transaction ends,
so upserting where the deal is written made every concurrent writer of the
cell wait for all the later statements of the one before it (PostgreSQL served
fewer creates at concurrency 32 than at 1).

So a transaction adds its deltas up per cell in the session, and a
`before_commit` listener writes them after everything else (the outbox and
audit rows too): one statement per roll-up, the roll-ups in name order and
each one's cells in key order, so that writers lock cells in one order (no
deadlock) and hold them only for the commit. A rollback drops them.

Inside a savepoint the deltas are written at once, so that rolling the
savepoint back takes them back too. Whatever reads or rebuilds a roll-up in a
transaction that wrote deals writes the pending deltas first (`write_pending`).
"""

from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

from sqlalchemy import Insert, Table, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from crm_common.storage.db import DIALECT_INSERTS

_PENDING_KEY = "crm_sales_rollup_deltas"

Key = tuple[Any, ...]
Deltas = dict[Key, list[int]]


class Rollup:
    """A roll-up table: cells keyed by `key_columns`, holding `sum_columns`
    that deltas add to."""

    def __init__(
        self, table: Table, key_columns: Sequence[str], sum_columns: Sequence[str]
    ) -> None:
        self.table = table
        self.key_columns = tuple(key_columns)
        self.sum_columns = tuple(sum_columns)

    def rows(self, deltas: Deltas) -> list[dict[str, Any]]:
        """The upsert's parameters: the cells that change, in key order."""
        return [
            {
                **dict(zip(self.key_columns, key, strict=True)),
                **dict(zip(self.sum_columns, delta, strict=True)),
            }
            for key, delta in sorted(deltas.items())
            if any(delta)
        ]

    def upsert(self, dialect_name: str) -> Insert:
        return self._upserts[dialect_name]

    @cached_property
    def _upserts(self) -> dict[str, Insert]:
        """INSERT ... ON CONFLICT DO UPDATE adding to the cell, built once per
        dialect: building it costs more than running it."""
        upserts = {}
        for dialect_name, dialect_insert in DIALECT_INSERTS.items():
            statement = dialect_insert(self.table)
            added = statement.excluded
            upserts[dialect_name] = statement.on_conflict_do_update(
                index_elements=list(self.key_columns),
                set_={name: self.table.c[name] + added[name] for name in self.sum_columns},
            )
        return upserts


async def add_deltas(
    session: AsyncSession, rollup: Rollup, deltas: Iterable[tuple[Key, Sequence[int]]]
) -> None:
    """Adds each (cell key, sums) delta to the roll-up when the transaction
    commits, or now inside a savepoint."""
    if session.in_nested_transaction():
        now: Deltas = {}
        _accumulate(now, deltas)
        await session.run_sync(_write, {rollup: now})
        return
    pending: dict[Rollup, Deltas] = session.info.setdefault(_PENDING_KEY, {})
    _accumulate(pending.setdefault(rollup, {}), deltas)


async def write_pending(session: AsyncSession) -> None:
    """Writes the deltas held back so far, for a read or rebuild of a roll-up
    in the same transaction."""
    if session.info.get(_PENDING_KEY):
        await session.run_sync(_write_pending)


def _accumulate(into: Deltas, deltas: Iterable[tuple[Key, Sequence[int]]]) -> None:
    for key, delta in deltas:
        total = into.get(key)
        if total is None:
            into[key] = list(delta)
        else:
            for index, value in enumerate(delta):
                total[index] += value


def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if pending:
        _write(session, pending)


def _write(session: Session, deltas: dict[Rollup, Deltas]) -> None:
    dialect_name = session.get_bind().dialect.name
    for rollup in sorted(deltas, key=lambda rollup: rollup.table.name):
        rows = rollup.rows(deltas[rollup])
        if rows:
            session.execute(rollup.upsert(dialect_name), rows)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    # Also called when a savepoint is released; the outermost commit writes.
    if not session.in_nested_transaction():
        _write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _drop_after_rollback(session: Session, transaction: SessionTransaction) -> None:
    # After a commit nothing is left; after a rollback the deltas go with it.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)
