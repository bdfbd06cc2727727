"""Use cases for notes on people and organizations."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.notes import Note, NoteRef, ParentRef
from crm_contacts.storage.notes import NoteRepository, parent_exists


async def create_note(uow: UnitOfWork, parent: ParentRef, body: str, author: str) -> Note:
    note = Note.create(NoteRef(parent, uuid.uuid4().hex), body, author, datetime.now(UTC))
    async with uow:
        await require_parent(uow.session, parent)
        await NoteRepository(uow.session).add(note)
        await uow.commit()
    return note


async def list_notes(
    uow: UnitOfWork, parent: ParentRef, after: Sequence[Any] | None, size: int
) -> tuple[list[Note], bool]:
    async with uow:
        await require_parent(uow.session, parent)
        found = await NoteRepository(uow.session).page(parent, after, size)
    return found[:size], len(found) > size


async def update_note(uow: UnitOfWork, ref: NoteRef, body: str | None, etag: str) -> Note:
    """Changes the body when one is given; without one, returns the note as it is."""
    async with uow:
        repository = NoteRepository(uow.session)
        note = await _existing(uow.session, repository, ref)
        check_etag(etag, note.version, note.name)
        read_version = note.version
        if body is not None and note.edit(body, datetime.now(UTC)):
            await repository.save(note, expected_version=read_version)
            await uow.commit()
    return note


async def delete_note(uow: UnitOfWork, ref: NoteRef, etag: str) -> None:
    async with uow:
        repository = NoteRepository(uow.session)
        note = await _existing(uow.session, repository, ref)
        check_etag(etag, note.version, note.name)
        await repository.delete(ref)
        await uow.commit()


async def require_parent(session: AsyncSession, parent: ParentRef) -> None:
    if not await parent_exists(session, parent):
        raise NotFound(f"{parent.name} does not exist")


async def _existing(session: AsyncSession, repository: NoteRepository, ref: NoteRef) -> Note:
    # Notes of a deleted parent are gone with it as far as clients can tell.
    await require_parent(session, ref.parent)
    note = await repository.get(ref)
    if note is None:
        raise NotFound(f"{ref.name} does not exist")
    return note
