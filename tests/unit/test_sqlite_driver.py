"""SQLite through the one-trip cursors answers as aiosqlite does."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text
from sqlalchemy.exc import IntegrityError

from crm_common.storage.db import create_engine, session_factory

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(20), nullable=False, unique=True),
)


async def _exercise(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        sessions = session_factory(engine)
        async with sessions() as session:
            first = await session.execute(insert(things).values(name="a"))
            assert first.inserted_primary_key == (1,)
            many = await session.execute(insert(things), [{"name": "b"}, {"name": "c"}])
            assert many.rowcount == 2
            await session.commit()
        async with sessions() as session:
            names = (await session.execute(select(things.c.name).order_by(things.c.id))).scalars()
            assert list(names) == ["a", "b", "c"]
            with pytest.raises(IntegrityError):
                await session.execute(insert(things).values(name="a"))
            await session.rollback()
        async with sessions() as session:
            await session.execute(insert(things).values(name="d"))
            await session.rollback()  # not committed: gone
            assert (await session.execute(text("SELECT count(*) FROM things"))).scalar() == 3
    finally:
        await engine.dispose()


def test_rows_counts_keys_errors_and_transactions(tmp_path: Path) -> None:
    asyncio.run(_exercise(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"))
