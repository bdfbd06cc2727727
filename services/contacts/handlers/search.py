"""The SearchContacts use case: rank the index, then load the records hit."""

from dataclasses import dataclass

from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.search import MAX_RESULTS, SearchQuery
from crm_contacts.storage.search import ContactSearch, Record


@dataclass(frozen=True)
class SearchPage:
    records: list[Record]
    has_more: bool


async def search_contacts(
    uow: UnitOfWork, query: SearchQuery, offset: int, size: int
) -> SearchPage:
    """The `size` best records from `offset` on, never past MAX_RESULTS."""
    size = max(0, min(size, MAX_RESULTS - offset))
    # One more than the page tells whether another follows, unless none may.
    wanted = size + 1 if offset + size < MAX_RESULTS else size
    async with uow:
        search = ContactSearch(uow.session)
        hits = await search.find(query, offset, wanted)
        records = await search.load(hits[:size])
    return SearchPage(records=records, has_more=len(hits) > size)
