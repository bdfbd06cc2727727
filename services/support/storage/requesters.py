"""Tickets and comments following what the contacts service says about a person."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_support.storage.tickets import ticket_comments, tickets

ERASED_TEXT = "(erased)"


async def repoint_requester(
    session: AsyncSession, merged_ids: Sequence[str], survivor_id: str, now: datetime
) -> None:
    """After a merge, tickets and comments of the merged people belong to the survivor.

    The version goes up so an etag read before the merge no longer matches.
    """
    await session.execute(
        update(tickets)
        .where(tickets.c.requester_id.in_(merged_ids))
        .values(requester_id=survivor_id, version=tickets.c.version + 1, update_time=now)
    )
    await session.execute(
        update(ticket_comments)
        .where(ticket_comments.c.author.in_([f"people/{i}" for i in merged_ids]))
        .values(author=f"people/{survivor_id}")
    )


async def scrub_requester(session: AsyncSession, person_id: str, now: datetime) -> None:
    """After a GDPR erasure: what the person wrote and how to reach them goes.

    Subjects stay: agents' own summaries of the case, needed for reports.
    """
    await session.execute(
        update(tickets)
        .where(tickets.c.requester_id == person_id)
        .values(
            requester_email="",
            requester_name="",
            description=ERASED_TEXT,
            attachments=[],
            version=tickets.c.version + 1,
            update_time=now,
        )
    )
    await session.execute(
        update(ticket_comments)
        .where(ticket_comments.c.author == f"people/{person_id}")
        .values(body=ERASED_TEXT, attachments=[], author_email="")
    )
