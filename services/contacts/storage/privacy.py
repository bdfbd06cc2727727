"""Erasing what hangs on a person, for ErasePerson (see domain/privacy.py)."""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_contacts.domain.notes import ParentRef
from crm_contacts.domain.privacy import ERASED_SUMMARY
from crm_contacts.storage.notes import delete_notes_of
from crm_contacts.storage.relationships import delete_relationships_of
from crm_contacts.storage.timeline import timeline_entries


async def erase_dependents_of(session: AsyncSession, person: ParentRef) -> None:
    """Deletes the person's notes and relationships; blanks its timeline summaries.

    Notes are what users wrote about the person. Relationships go too: role,
    dates and the organization at the other end can single a person out, and
    no other service refers to a relationship. Timeline entries stay, minus
    their text, as pointers to the deals and tickets other services keep.
    """
    await delete_notes_of(session, person.name)
    await delete_relationships_of(session, person.name)
    await session.execute(
        update(timeline_entries)
        .where(
            timeline_entries.c.parent_kind == person.kind.value,
            timeline_entries.c.parent_id == person.id,
        )
        .values(summary=ERASED_SUMMARY)
    )
