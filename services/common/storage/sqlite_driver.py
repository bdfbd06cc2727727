"""aiosqlite with one trip to its thread per statement.

aiosqlite runs every call of a cursor on the connection's own thread, so the
way SQLAlchemy's adapter uses it (open a cursor, execute, fetch the rows,
close) costs four trips per statement, each a queue hand-off, a GIL hand-over
and a wake-up of the event loop: about 190 µs of CPU for a one-row lookup that
SQLite answers in 4 µs (50 µs with one trip). Here a cursor does all of that
in one trip: it executes, fetches every row (what the adapter asks for next
anyway) and closes the sqlite3 cursor on the thread, and answers from what it
brought back. Server-side cursors get the same whole result (no code of ours
streams from SQLite).
"""

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Self

import aiosqlite
from sqlalchemy.engine import URL

_Description = tuple[tuple[Any, ...], ...] | None
_Outcome = tuple[_Description, list[Any], int, int | None]

# aiosqlite's default: how many rows `async for` over a cursor fetches at once.
_ITER_CHUNK_SIZE = 64


def _execute(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: the statement's description, rows, row count and last row id."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """The part of a DBAPI cursor SQLAlchemy's aiosqlite adapter uses."""

    def __init__(self, connection: "OneTripConnection") -> None:
        self._connection = connection
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> Self:
        return await self._run(sql, () if parameters is None else parameters, many=False)

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> Self:
        return await self._run(sql, parameters, many=True)

    async def _run(self, sql: str, parameters: Any, many: bool) -> Self:
        connection = self._connection
        outcome = await connection.on_thread(
            partial(_execute, connection.sqlite, sql, parameters, many)
        )
        self.description, self._rows, self.rowcount, self.lastrowid = outcome
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []  # the sqlite3 cursor was closed on the thread


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip per statement."""

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    @property
    def sqlite(self) -> sqlite3.Connection:
        return self._conn

    # A read never opens a transaction (sqlite3 begins one before a change):
    # ending one that is not open does nothing, so it need not cost a trip.
    # Nothing runs on the thread meanwhile: SQLAlchemy awaits each call.

    async def commit(self) -> None:
        if self.sqlite.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self.sqlite.in_transaction:
            await super().rollback()

    async def on_thread(self, function: Callable[[], Any]) -> Any:
        return await self._execute(function)


def one_trip_connector(url: URL) -> Callable[[], Any]:
    """For `create_async_engine(async_creator=...)`: connections to the SQLite
    database at `url`, opened as SQLAlchemy's own aiosqlite dialect would."""
    dialect = url.get_dialect()()
    arguments, options = dialect.create_connect_args(url)

    async def connect() -> OneTripConnection:
        connection = OneTripConnection(
            partial(sqlite3.connect, *arguments, **options), _ITER_CHUNK_SIZE
        )
        # As SQLAlchemy does: a connection never closed must not keep the process alive.
        connection._thread.daemon = True
        return await connection

    return connect
