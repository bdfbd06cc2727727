"""Timeline entries from other services' events, and the timeline merged with notes."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    Row,
    String,
    Subquery,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_contacts.domain.notes import Note, ParentKind, ParentRef
from crm_contacts.domain.timeline import Announcement, TimelineEntry, TimelineKind
from crm_contacts.storage.notes import NoteRepository, notes
from crm_contacts.storage.notes import of_parent as notes_of
from crm_contacts.storage.tables import metadata

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("id", String(32), primary_key=True),
    # No foreign key: entries are kept for contacts that do not exist (yet),
    # since the announcing service may know of them before this one does.
    Column("parent_kind", String(20), nullable=False),
    Column("parent_id", String(63), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("source", String(63), nullable=False),
    Column("resource", Text, nullable=False),
    Column("event_id", String(36), nullable=False),
    # The inbox already applies an event once; this makes a second copy
    # impossible even if it were bypassed (one entry per event and customer).
    UniqueConstraint("event_id", "parent_kind", "parent_id", name="uq_timeline_entries_event"),
    Index("ix_timeline_entries_parent_time", "parent_kind", "parent_id", "time", "id"),
)

# Notes and announcements interleave by time; at equal times announcements
# come first, and ids (unique within each origin) make every key distinct.
_NOTE, _ANNOUNCEMENT = 0, 1
NEWEST_FIRST = (
    SortKey("time", descending=True),
    SortKey("origin", descending=True),
    SortKey("id", descending=True),
)
SORT_KEY_TYPES = (datetime, int, str)


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, event_id: str, announcement: Announcement) -> None:
        """One entry per customer the announcement is about."""
        if not announcement.about:
            return
        await self._session.execute(
            insert(timeline_entries),
            [_to_row(event_id, announcement, parent) for parent in announcement.about],
        )

    async def page(
        self, parent: ParentRef, after: Sequence[Any] | None, size: int
    ) -> list[TimelineEntry]:
        """A page of the parent's notes and entries together, newest first."""
        merged = _merged_keys(parent)
        columns = {name: merged.c[name] for name in ("time", "origin", "id")}
        keys = (
            await self._session.execute(paged(select(merged), NEWEST_FIRST, columns, after, size))
        ).all()
        note_ids = [key.id for key in keys if key.origin == _NOTE]
        entry_ids = [key.id for key in keys if key.origin == _ANNOUNCEMENT]
        found_notes = await NoteRepository(self._session).by_ids(parent, note_ids)
        found_entries = await self._entries(entry_ids)
        # Under READ COMMITTED a note may go between the reads: it is skipped.
        return [
            entry for key in keys if (entry := _pick(key, found_notes, found_entries)) is not None
        ]

    async def _entries(self, ids: Sequence[str]) -> dict[str, TimelineEntry]:
        if not ids:
            return {}
        query = select(timeline_entries).where(timeline_entries.c.id.in_(ids))
        return {row.id: _to_entry(row) for row in (await self._session.execute(query)).all()}


async def repoint_timeline_entries(session: AsyncSession, old: ParentRef, new: ParentRef) -> None:
    """Moves the entries of `old` to `new`, as merging records does.

    An event about both records has an entry on each; `new` keeps its own,
    since the unique (event, parent) constraint allows one.
    """
    held_by_new = select(timeline_entries.c.event_id).where(*_of_parent(new))
    await session.execute(
        delete(timeline_entries).where(
            *_of_parent(old), timeline_entries.c.event_id.in_(held_by_new)
        )
    )
    await session.execute(
        update(timeline_entries)
        .where(*_of_parent(old))
        .values(parent_kind=new.kind.value, parent_id=new.id)
    )


def _of_parent(parent: ParentRef) -> list[Any]:
    return [
        timeline_entries.c.parent_kind == parent.kind.value,
        timeline_entries.c.parent_id == parent.id,
    ]


def sort_key(entry: TimelineEntry) -> list[Any]:
    """The values of NEWEST_FIRST for `entry`, to continue a timeline after it."""
    origin = _NOTE if entry.kind is TimelineKind.NOTE else _ANNOUNCEMENT
    return [entry.time, origin, entry.id]


def _merged_keys(parent: ParentRef) -> Subquery:
    # Only the sort keys go through the UNION: the two sides have different
    # columns, and each is then read by primary key.
    from_notes = select(
        notes.c.create_time.label("time"),
        literal_column(str(_NOTE), Integer).label("origin"),
        notes.c.id.label("id"),
    ).where(*notes_of(parent))
    from_events = select(
        timeline_entries.c.time.label("time"),
        literal_column(str(_ANNOUNCEMENT), Integer).label("origin"),
        timeline_entries.c.id.label("id"),
    ).where(
        timeline_entries.c.parent_kind == parent.kind.value,
        timeline_entries.c.parent_id == parent.id,
    )
    return union_all(from_notes, from_events).subquery("timeline")


def _pick(
    key: Row, found_notes: dict[str, Note], found_entries: dict[str, TimelineEntry]
) -> TimelineEntry | None:
    if key.origin == _NOTE:
        note = found_notes.get(key.id)
        return TimelineEntry.of_note(note) if note is not None else None
    return found_entries.get(key.id)


def _to_row(event_id: str, announcement: Announcement, parent: ParentRef) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "parent_kind": parent.kind.value,
        "parent_id": parent.id,
        "time": announcement.time,
        "kind": announcement.kind.value,
        "summary": announcement.summary,
        "source": announcement.source,
        "resource": announcement.resource,
        "event_id": event_id,
    }


def _to_entry(row: Row) -> TimelineEntry:
    return TimelineEntry(
        id=row.id,
        parent=ParentRef(ParentKind(row.parent_kind), row.parent_id),
        time=row.time,
        kind=TimelineKind(row.kind),
        summary=row.summary,
        source=row.source,
        resource=row.resource,
    )
