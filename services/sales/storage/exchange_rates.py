"""The exchange_rates table and its repository.

Rates are stored as their decimal text: exact on every backend (SQLite would
round a NUMERIC through float), and only ever read whole into Python.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Integer, Row, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_sales.domain.exchange_rates import ExchangeRate, rate_text
from crm_sales.storage.tables import metadata

exchange_rates = Table(
    "exchange_rates",
    metadata,
    Column("currency_code", String(3), primary_key=True),
    Column("rate", String(32), nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

_SORT_COLUMNS = {"currency_code": exchange_rates.c.currency_code}
BY_CURRENCY = (SortKey("currency_code"),)


class ExchangeRateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, currency: str) -> ExchangeRate | None:
        query = select(exchange_rates).where(exchange_rates.c.currency_code == currency)
        row = (await self._session.execute(query)).first()
        return _to_rate(row) if row else None

    async def all(self) -> dict[str, Decimal]:
        rows = (await self._session.execute(select(exchange_rates))).all()
        return {row.currency_code: Decimal(row.rate) for row in rows}

    async def add(self, rate: ExchangeRate) -> None:
        try:
            await self._session.execute(insert(exchange_rates).values(_row(rate)))
        except IntegrityError as error:
            raise Aborted(f"{rate.name} was created concurrently; retry") from error

    async def save(self, rate: ExchangeRate, expected_version: int) -> None:
        result = await self._session.execute(
            update(exchange_rates)
            .where(
                exchange_rates.c.currency_code == rate.currency,
                exchange_rates.c.version == expected_version,
            )
            .values(_row(rate))
        )
        if result.rowcount != 1:
            raise Aborted(f"{rate.name} was changed concurrently; retry")

    async def delete(self, rate: ExchangeRate) -> None:
        result = await self._session.execute(
            delete(exchange_rates).where(
                exchange_rates.c.currency_code == rate.currency,
                exchange_rates.c.version == rate.version,
            )
        )
        if result.rowcount != 1:
            raise Aborted(f"{rate.name} was changed concurrently; retry")

    async def page(
        self, after: Sequence[Any] | None, size: int
    ) -> list[tuple[ExchangeRate, list[Any]]]:
        query = paged(select(exchange_rates), BY_CURRENCY, _SORT_COLUMNS, after, size)
        rows = (await self._session.execute(query)).all()
        return [(_to_rate(row), [row.currency_code]) for row in rows]


def _row(rate: ExchangeRate) -> dict[str, Any]:
    return {
        "currency_code": rate.currency,
        "rate": rate_text(rate.rate),
        "update_time": rate.update_time,
        "version": rate.version,
    }


def _to_rate(row: Row[Any]) -> ExchangeRate:
    return ExchangeRate(row.currency_code, Decimal(row.rate), row.update_time, row.version)
