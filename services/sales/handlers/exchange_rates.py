"""Use cases for the managed exchange-rate table."""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_sales.domain.exchange_rates import EXCHANGE_RATES, ExchangeRate
from crm_sales.storage.exchange_rates import ExchangeRateRepository


async def get_rate(uow: UnitOfWork, currency: str) -> ExchangeRate:
    async with uow:
        return await _existing(ExchangeRateRepository(uow.session), currency)


async def list_rates(uow: UnitOfWork, after: Sequence[Any] | None, size: int) -> Page[ExchangeRate]:
    async with uow:
        found = await ExchangeRateRepository(uow.session).page(after, size)
    return Page.of(found, size)


async def set_rate(
    uow: UnitOfWork, currency: str, rate: Decimal, etag: str, *, allow_missing: bool
) -> ExchangeRate:
    """Changes a currency's rate; with `allow_missing`, gives one to a currency without."""
    now = datetime.now(UTC)
    async with uow:
        repository = ExchangeRateRepository(uow.session)
        existing = await repository.get(currency)
        if existing is None:
            if not allow_missing:
                raise NotFound(f"{EXCHANGE_RATES}{currency} does not exist; set allow_missing")
            created = ExchangeRate(currency, rate, now)
            await repository.add(created)
            await uow.commit()
            return created
        check_etag(etag, existing.version, existing.name)
        read_version = existing.version
        if existing.set(rate, now):
            await repository.save(existing, expected_version=read_version)
            await uow.commit()
    return existing


async def delete_rate(uow: UnitOfWork, currency: str, etag: str) -> None:
    async with uow:
        repository = ExchangeRateRepository(uow.session)
        existing = await _existing(repository, currency)
        check_etag(etag, existing.version, existing.name)
        await repository.delete(existing)
        await uow.commit()


async def _existing(repository: ExchangeRateRepository, currency: str) -> ExchangeRate:
    rate = await repository.get(currency)
    if rate is None:
        raise NotFound(f"{EXCHANGE_RATES}{currency} does not exist")
    return rate
