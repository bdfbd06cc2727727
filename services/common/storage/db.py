"""Database engines: SQLite (WAL) embedded by default, PostgreSQL by URL."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from crm_common.storage.sqlite_driver import one_trip_connector

# Each backend's INSERT, the one that can say ON CONFLICT, by dialect name.
# Idle connections are renewed after this long, before firewalls and
# proxies forget them.
_POSTGRES_RECYCLE_SECONDS = 1800

DIALECT_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(
            url,
            pool_size=20,
            max_overflow=10,
            # No ping before each use (asyncpg's is BEGIN, a statement and
            # ROLLBACK: three round trips on every request and event). A
            # statement that finds its connection lost fails (UNAVAILABLE)
            # and SQLAlchemy replaces the whole pool then.
            pool_recycle=_POSTGRES_RECYCLE_SECONDS,
            connect_args={"server_settings": _POSTGRES_SESSION},
        )
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # One connection: SQLite has a single writer anyway, and queueing in
    # asyncio is fairer and cheaper than SQLite's busy-wait on a locked file.
    engine = create_async_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
        async_creator=one_trip_connector(parsed),
    )
    event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


# A service's queries are short index lookups: starting parallel workers or
# JIT-compiling costs more than the query itself (measured at 1M people: a
# filtered page took 11 ms with two workers, 0.8 ms without).
_POSTGRES_SESSION = {"max_parallel_workers_per_gather": "0", "jit": "off"}


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        # With WAL, NORMAL keeps the database consistent on power loss and
        # loses at most the last commits; a crashed process loses nothing.
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=10000",
    ):
        cursor.execute(pragma)
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone type and hands back naive values; storing UTC and
    re-attaching the zone on read keeps comparisons and ordering right.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
