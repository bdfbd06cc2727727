"""Migration 0006 on both backends: it indexes the records that exist before it,
and its downgrade leaves no trigger behind that would break a later write."""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    ColumnClause,
    Connection,
    Integer,
    String,
    column,
    insert,
    inspect,
    table,
)
from sqlalchemy.ext.asyncio import AsyncEngine

import crm_contacts
from crm_cli.servers import PostgresServer
from crm_common.storage.db import UtcDateTime, create_engine, session_factory
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.search import SearchQuery
from crm_contacts.storage.search import ContactSearch, SearchHit

MIGRATIONS = Path(crm_contacts.__file__).parent / "storage" / "migrations"
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def _record_columns() -> list[ColumnClause[object]]:
    """The columns people and organizations share as of revision 0003."""
    return [
        column("id", String),
        column("owner", String),
        column("background", String),
        *(
            column(name, JSON)
            for name in ("email_addresses", "phone_numbers", "addresses", "social_handles", "tags")
        ),
        column("create_time", UtcDateTime),
        column("update_time", UtcDateTime),
        column("version", Integer),
    ]


# Written out as of revision 0003: the current tables may have more columns.
people = table(
    "people",
    column("given_name", String),
    column("family_name", String),
    column("job_title", String),
    *_record_columns(),
)
organizations = table(
    "organizations",
    column("display_name", String),
    column("website", String),
    column("industry", String),
    column("domains", JSON),
    *_record_columns(),
)


def _record(record_id: str, emails: list[str]) -> dict[str, object]:
    return {
        "id": record_id,
        "owner": "",
        "background": "",
        "email_addresses": [{"address": e, "type": "work"} for e in emails],
        "phone_numbers": [],
        "addresses": [],
        "social_handles": [],
        "tags": [],
        "create_time": NOW,
        "update_time": NOW,
        "version": 1,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    postgres: PostgresServer | None = None
    name = f"search_migration_{time.monotonic_ns()}"
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres_server")
        url = postgres.create_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
    engine = create_engine(url)
    yield engine
    await engine.dispose()
    if postgres is not None:
        postgres.drop_database(name)


async def _migrate(engine: AsyncEngine, step: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        getattr(command, step)(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def _hits(engine: AsyncEngine, text: str) -> list[SearchHit]:
    async with session_factory(engine)() as session:
        return await ContactSearch(session).find(SearchQuery.parse(text), 0, 10)


async def test_existing_records_are_indexed(engine: AsyncEngine) -> None:
    await _migrate(engine, "upgrade", "0003")
    async with engine.begin() as connection:
        await connection.execute(
            insert(people),
            [
                {
                    **_record("ada", ["ada@lovelace.example"]),
                    "given_name": "Ada",
                    "family_name": "Lovelace",
                    "job_title": "",
                },
                {
                    **_record("charles", []),
                    "given_name": "Charles",
                    "family_name": "Babbage",
                    "job_title": "",
                },
            ],
        )
        await connection.execute(
            insert(organizations),
            {
                **_record("engines", ["info@engines.example"]),
                "display_name": "Analytical Engines",
                "website": "",
                "industry": "",
                "domains": ["engines.example"],
            },
        )
    await _migrate(engine, "upgrade", "heads")

    assert await _hits(engine, "lovel") == [SearchHit(ContactKind.PERSON, "ada")]
    assert await _hits(engine, "ada@lovelace.example") == [SearchHit(ContactKind.PERSON, "ada")]
    assert await _hits(engine, "babbage") == [SearchHit(ContactKind.PERSON, "charles")]
    engines = [SearchHit(ContactKind.ORGANIZATION, "engines")]
    assert await _hits(engine, "analytical") == engines
    assert await _hits(engine, "engines.example") == engines


async def test_downgrade_removes_the_index_and_its_triggers(engine: AsyncEngine) -> None:
    await _migrate(engine, "upgrade", "heads")
    await _migrate(engine, "downgrade", "0006-1")
    async with engine.connect() as connection:
        assert not await connection.run_sync(lambda sync: inspect(sync).has_table("contact_search"))
    # Writes to the source tables still work: no trigger points at a dropped table.
    async with engine.begin() as connection:
        await connection.execute(
            insert(people),
            {
                **_record("grace", []),
                "given_name": "Grace",
                "family_name": "Hopper",
                "job_title": "",
            },
        )
    await _migrate(engine, "upgrade", "heads")  # and the backfill indexes them
    assert await _hits(engine, "hopper") == [SearchHit(ContactKind.PERSON, "grace")]
