"""What hangs on a person or an organization: it goes when the record goes, and
moves to the survivor when the record is merged into another."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_contacts.domain.notes import ParentRef
from crm_contacts.storage.notes import delete_notes_of, repoint_notes
from crm_contacts.storage.relationships import delete_relationships_of, repoint_relationships
from crm_contacts.storage.timeline import repoint_timeline_entries


async def delete_dependents_of(session: AsyncSession, resource_name: str) -> None:
    """Relationships at either end and notes of `people/1` or `organizations/1`.

    Timeline entries stay: they record what other services announced, and a
    record re-created under a client-chosen id is the same customer to them.
    """
    await delete_relationships_of(session, resource_name)
    await delete_notes_of(session, resource_name)


async def move_dependents(session: AsyncSession, from_resource: str, to_resource: str) -> None:
    """Relationships, notes and timeline entries of one record, moved to another
    of the same kind, as merging records does."""
    old, new = ParentRef.parse(from_resource), ParentRef.parse(to_resource)
    if old is None or new is None or old.kind is not new.kind:
        raise ValueError(f"cannot move what hangs on {from_resource!r} to {to_resource!r}")
    await repoint_relationships(session, from_resource, to_resource)
    await repoint_notes(session, old, new)
    await repoint_timeline_entries(session, old, new)
