"""Use cases of the customer timeline."""

from collections.abc import Sequence
from typing import Any

from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.notes import ParentRef
from crm_contacts.domain.timeline import TimelineEntry
from crm_contacts.handlers.notes import require_parent
from crm_contacts.storage.timeline import TimelineRepository


async def list_timeline(
    uow: UnitOfWork, parent: ParentRef, after: Sequence[Any] | None, size: int
) -> tuple[list[TimelineEntry], bool]:
    async with uow:
        await require_parent(uow.session, parent)
        found = await TimelineRepository(uow.session).page(parent, after, size)
    return found[:size], len(found) > size
