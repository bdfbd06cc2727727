"""AIP-160 filters run as SQL on both backends and select exactly the right rows."""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm_cli.servers import PostgresServer
from crm_common.filtering import FilterField, FilterSchema, parse_filter
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import (
    ChildTableBinding,
    ColumnBinding,
    FieldBinding,
    JsonArrayBinding,
    JsonObjectBinding,
    filter_clause,
)

metadata = MetaData()
# JSONB only on PostgreSQL, to cover both of its JSON types.
JSON_OR_JSONB = JSON().with_variant(JSONB(), "postgresql")

records = Table(
    "records",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("age", Integer),
    Column("score", Float),
    Column("active", Boolean, nullable=False),
    Column("stage", String(20), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("labels", JSON),
    Column("skills", JSON_OR_JSONB),
    Column("custom_fields", JSON),
    Column("attrs", JSON_OR_JSONB),
)

record_tags = Table(
    "record_tags",
    metadata,
    Column("record_id", String(20), ForeignKey("records.id"), primary_key=True),
    Column("tag", String(50), primary_key=True),
)

SCHEMA = FilterSchema(
    {
        "name": FilterField.string(),
        "age": FilterField.integer(),
        "score": FilterField.number(),
        "active": FilterField.boolean(),
        "stage": FilterField.enum(["LEAD", "CUSTOMER", "CHURNED"]),
        "create_time": FilterField.timestamp(),
        "labels": FilterField.repeated_string(),
        "skills": FilterField.repeated_string(),
        "tags": FilterField.repeated_string(),
    },
    custom_prefixes=("custom_fields", "attrs."),
)

BINDINGS: dict[str, FieldBinding] = {
    **{
        name: ColumnBinding(records.c[name])
        for name in ("name", "age", "score", "active", "stage", "create_time")
    },
    "labels": JsonArrayBinding(records.c.labels),
    "skills": JsonArrayBinding(records.c.skills),
    "tags": ChildTableBinding(records.c.id, record_tags.c.record_id, record_tags.c.tag),
    "custom_fields": JsonObjectBinding(records.c.custom_fields),
    "attrs": JsonObjectBinding(records.c.attrs),
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


ROWS: list[dict[str, Any]] = [
    {
        "id": "r1",
        "name": "Ada Lovelace",
        "age": 36,
        "score": 9.5,
        "active": True,
        "stage": "LEAD",
        "create_time": _at("2025-12-01T00:00:00+00:00"),
        "labels": ["vip", "emea"],
        "skills": ["python"],
        "custom_fields": {"region": "emea", "size": 120, "vip": True},
        "attrs": {"tier": "gold"},
    },
    {
        "id": "r2",
        "name": "Grace",
        "age": 85,
        "score": 7.25,
        "active": False,
        "stage": "CUSTOMER",
        "create_time": _at("2026-01-01T00:00:00+00:00"),
        "labels": [],
        "skills": [],
        "custom_fields": {"region": "amer", "size": "120"},
        "attrs": {"tier": 1},
    },
    {
        "id": "r3",
        "name": 'O\'Brien "Bob"',
        "age": None,
        "score": None,
        "active": True,
        "stage": "CUSTOMER",
        "create_time": _at("2026-02-15T12:30:00+00:00"),
        "labels": ["amer"],
        "skills": ["go", "python"],
        "custom_fields": {"region": None},
        "attrs": {},
    },
    {
        # JSON nulls where arrays and objects are expected must not break queries.
        "id": "r4",
        "name": "",
        "age": 20,
        "score": 0.0,
        "active": False,
        "stage": "CHURNED",
        "create_time": _at("2026-01-01T09:00:00+00:00"),
        "labels": None,
        "skills": None,
        "custom_fields": {},
        "attrs": None,
    },
    {
        "id": "r5",
        "name": "x' OR '1'='1",
        "age": -5,
        "score": 12.0,
        "active": False,
        "stage": "LEAD",
        "create_time": _at("2025-06-30T23:59:59.500000+00:00"),
        "labels": ["vip2"],
        "skills": ["rust"],
        "custom_fields": {"region": "EMEA", "size": 99.5, "vip": False},
        "attrs": {"tier": "silver"},
    },
]
TAGS = [("r1", "vip"), ("r1", "beta"), ("r3", "beta"), ("r5", "vip2")]
ALL = {row["id"] for row in ROWS}

CASES: list[tuple[str, set[str]]] = [
    ("", ALL),
    # Beyond a 32-bit column's range: compares rather than overflowing.
    ("age < 9000000000", {"r1", "r2", "r4", "r5"}),
    ("age = -9000000000", set()),
    ('name = "Grace"', {"r2"}),
    ("name = Grace", {"r2"}),
    ("name = 'O\\'Brien \"Bob\"'", {"r3"}),
    ("name = \"x' OR '1'='1\"", {"r5"}),
    ("name != Grace", ALL - {"r2"}),
    ('name >= "G" AND name < "H"', {"r2"}),
    ("name:*", ALL - {"r4"}),
    ("-name:*", {"r4"}),
    ("age > 30", {"r1", "r2"}),
    ("age >= 20 age < 40", {"r1", "r4"}),
    ("age < -1", {"r5"}),
    ("age = null", {"r3"}),
    ("age != null", ALL - {"r3"}),
    ("NOT age > 30", {"r3", "r4", "r5"}),
    ("score <= 7.25", {"r2", "r4"}),
    ("score > 9", {"r1", "r5"}),
    ("active = true", {"r1", "r3"}),
    ("active != true", {"r2", "r4", "r5"}),
    ("NOT -active = true", {"r1", "r3"}),
    ("stage = customer", {"r2", "r3"}),
    ("stage != CUSTOMER", {"r1", "r4", "r5"}),
    ('create_time >= "2026-01-01"', {"r2", "r3", "r4"}),
    ("create_time >= 2026-01-01", {"r2", "r3", "r4"}),
    ('create_time > "2026-01-01T00:00:00Z"', {"r3", "r4"}),
    ('create_time < "2026-01-01T10:00:00+02:00"', {"r1", "r2", "r5"}),
    ('create_time < "2025-06-30T23:59:59.6Z"', {"r5"}),
    ("labels:vip", {"r1"}),
    ("labels:*", {"r1", "r3", "r5"}),
    ("-labels:*", {"r2", "r4"}),
    ("skills:python", {"r1", "r3"}),
    ("skills:*", {"r1", "r3", "r5"}),
    ("-skills:python", {"r2", "r4", "r5"}),
    ("tags:beta", {"r1", "r3"}),
    ("tags:*", {"r1", "r3", "r5"}),
    ("-tags:vip", ALL - {"r1"}),
    ("custom_fields.region = emea", {"r1"}),
    ('custom_fields.region = "amer"', {"r2"}),
    ("custom_fields.region != emea", {"r2", "r5"}),
    ("NOT custom_fields.region = emea", ALL - {"r1"}),
    ("custom_fields.size > 100", {"r1"}),
    ('custom_fields.size = "120"', {"r2"}),
    ("custom_fields.size >= 99.5", {"r1", "r5"}),
    ("custom_fields.size < 100", {"r5"}),
    ("custom_fields.vip = true", {"r1"}),
    ("custom_fields.vip = false", {"r5"}),
    ("custom_fields.vip != true", {"r5"}),
    ("custom_fields.region:*", {"r1", "r2", "r5"}),
    ("custom_fields:region", {"r1", "r2", "r5"}),
    ("custom_fields.region = null", {"r3", "r4"}),
    ("custom_fields.region != null", {"r1", "r2", "r5"}),
    ("attrs.tier = gold", {"r1"}),
    ("attrs.tier = 1", {"r2"}),
    ('attrs.tier > "h"', {"r5"}),
    ("attrs.tier:*", {"r1", "r2", "r5"}),
    # OR binds tighter than AND in AIP-160; SQL's precedence would add r1.
    ("stage = lead OR stage = churned AND active = false", {"r4", "r5"}),
    ("active = false AND stage = lead OR stage = churned", {"r4", "r5"}),
    ("(age > 30 OR labels:amer) -tags:beta", {"r2"}),
    ("NOT (custom_fields.vip = true OR skills:python)", {"r2", "r4", "r5"}),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    postgres: PostgresServer | None = None
    name = f"filter_sql_{time.monotonic_ns()}"
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres_server")
        url = postgres.create_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('filter_sql') / name}.db"
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(insert(records), ROWS)
        await connection.execute(insert(record_tags), [{"record_id": r, "tag": t} for r, t in TAGS])
    yield engine
    await engine.dispose()
    if postgres is not None:
        postgres.drop_database(name)


async def _ids(engine: AsyncEngine, text: str) -> set[str]:
    clause = filter_clause(parse_filter(text, SCHEMA), BINDINGS)
    async with engine.connect() as connection:
        result = await connection.execute(select(records.c.id).where(clause))
        return {row.id for row in result}


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text or "<empty>" for text, _ in CASES])
async def test_filter_selects_exactly_the_expected_rows(
    engine: AsyncEngine, text: str, expected: set[str]
) -> None:
    assert await _ids(engine, text) == expected


async def test_cached_statements_take_each_requests_values(engine: AsyncEngine) -> None:
    # The same filter shape compiles once; values must still come from each request.
    for region, expected in [("emea", {"r1"}), ("amer", {"r2"}), ("EMEA", {"r5"})] * 2:
        assert await _ids(engine, f"custom_fields.region = {region}") == expected
    for tag, expected in [("vip", {"r1"}), ("amer", {"r3"})] * 2:
        assert await _ids(engine, f"labels:{tag} OR skills:{tag}") == expected


async def test_json_only_filters_find_their_table(engine: AsyncEngine) -> None:
    clause = filter_clause(parse_filter("custom_fields.size > 1", SCHEMA), BINDINGS)
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).where(clause))
    assert count == 2


@pytest.mark.parametrize("dialect", [SQLiteDialect_aiosqlite(), PGDialect_asyncpg()])
def test_client_values_are_bound_never_inlined(dialect: Dialect) -> None:
    marker = "zz'); DROP TABLE records; --"
    text = (
        f'name = "{marker}" OR labels:"{marker}" OR skills:"{marker}" OR tags:"{marker}" '
        f'OR custom_fields.zz_key = "{marker}" OR attrs.zz_key:*'
    )
    statement = select(records.c.id).where(filter_clause(parse_filter(text, SCHEMA), BINDINGS))
    compiled = statement.compile(dialect=dialect)
    assert "DROP" not in str(compiled)
    assert "zz_key" not in str(compiled)
    assert list(compiled.params.values()).count(marker) == 5


def test_a_field_without_binding_is_a_programming_error() -> None:
    with pytest.raises(LookupError, match="score"):
        filter_clause(parse_filter("score > 1", SCHEMA), {"name": BINDINGS["name"]})
