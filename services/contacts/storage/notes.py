"""The notes table, its repository, and whether a note's parent exists."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_contacts.domain.notes import Note, NoteRef, ParentKind, ParentRef
from crm_contacts.storage.organizations import organizations
from crm_contacts.storage.tables import metadata, people

notes = Table(
    "notes",
    metadata,
    Column("id", String(63), primary_key=True),
    # No foreign key: the parent is a person or an organization.
    Column("parent_kind", String(20), nullable=False),
    Column("parent_id", String(63), nullable=False),
    Column("body", Text, nullable=False),
    Column("author", String(200), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # A parent's notes newest first, and the notes side of its timeline.
    Index("ix_notes_parent_create_time", "parent_kind", "parent_id", "create_time", "id"),
)

NEWEST_FIRST = (SortKey("create_time", descending=True), SortKey("id", descending=True))
SORT_COLUMNS = {"create_time": notes.c.create_time, "id": notes.c.id}
SORT_KEY_TYPES = (datetime, str)

_PARENT_TABLES = {ParentKind.PERSON: people, ParentKind.ORGANIZATION: organizations}


async def parent_exists(session: AsyncSession, parent: ParentRef) -> bool:
    table = _PARENT_TABLES[parent.kind]
    return await session.scalar(select(table.c.id).where(table.c.id == parent.id)) is not None


async def delete_notes_of(session: AsyncSession, parent_name: str) -> None:
    """For deleting a person or an organization (`people/1`, ...) together with its notes."""
    parent = ParentRef.parse(parent_name)
    if parent is None:
        raise ValueError(f"{parent_name!r} names no person or organization")
    await session.execute(delete(notes).where(*of_parent(parent)))


async def repoint_notes(session: AsyncSession, old: ParentRef, new: ParentRef) -> None:
    """Moves every note of `old` to `new`, as merging records does; ids stay unique."""
    await session.execute(
        update(notes).where(*of_parent(old)).values(parent_kind=new.kind.value, parent_id=new.id)
    )


def of_parent(parent: ParentRef) -> list[Any]:
    """WHERE clauses selecting a parent's notes."""
    return [notes.c.parent_kind == parent.kind.value, notes.c.parent_id == parent.id]


class NoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, ref: NoteRef) -> Note | None:
        query = select(notes).where(notes.c.id == ref.id, *of_parent(ref.parent))
        row = (await self._session.execute(query)).first()
        return to_note(row) if row else None

    async def by_ids(self, parent: ParentRef, ids: Sequence[str]) -> dict[str, Note]:
        query = select(notes).where(notes.c.id.in_(ids), *of_parent(parent))
        return {row.id: to_note(row) for row in (await self._session.execute(query)).all()}

    async def add(self, note: Note) -> None:
        await self._session.execute(insert(notes).values(_to_row(note)))

    async def save(self, note: Note, expected_version: int) -> None:
        """Writes a changed note unless someone else changed it first."""
        result = await self._session.execute(
            update(notes)
            .where(notes.c.id == note.ref.id, notes.c.version == expected_version)
            .values(_to_row(note))
        )
        if result.rowcount != 1:
            raise Aborted(f"{note.name} was changed concurrently; get it again and retry")

    async def delete(self, ref: NoteRef) -> None:
        await self._session.execute(delete(notes).where(notes.c.id == ref.id))

    async def page(self, parent: ParentRef, after: Sequence[Any] | None, size: int) -> list[Note]:
        query = paged(
            select(notes).where(*of_parent(parent)), NEWEST_FIRST, SORT_COLUMNS, after, size
        )
        return [to_note(row) for row in (await self._session.execute(query)).all()]


def sort_key(note: Note) -> list[Any]:
    """The values of NEWEST_FIRST for `note`, to continue a listing after it."""
    return [note.create_time, note.ref.id]


def _to_row(note: Note) -> dict[str, Any]:
    return {
        "id": note.ref.id,
        "parent_kind": note.ref.parent.kind.value,
        "parent_id": note.ref.parent.id,
        "body": note.body,
        "author": note.author,
        "create_time": note.create_time,
        "update_time": note.update_time,
        "version": note.version,
    }


def to_note(row: Row) -> Note:
    return Note(
        ref=NoteRef(ParentRef(ParentKind(row.parent_kind), row.parent_id), row.id),
        body=row.body,
        author=row.author,
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
