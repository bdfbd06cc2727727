"""Finding people and organizations by the words in their names, emails and domains.

The index belongs to the database: migration 0006 creates it with the triggers
that keep it in step with every write, so nothing here writes to it. User text
reaches SQL only as bound parameters, and reaches the full-text syntax of each
database only as quoted words of letters and digits (SQLite) or through
phraseto_tsquery (PostgreSQL), so no query can be a syntax error.

The ranking, best first: on PostgreSQL, a name equal to the query; then on
both, records matching every word whole before those that need the last word as
a prefix; on PostgreSQL, names that start with the query; then relevance (names
weigh more than emails and domains); then a stable tie-break, so that offsets
page consistently.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Row, Table, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.model import Person
from crm_contacts.domain.organizations import Organization
from crm_contacts.domain.search import MAX_RESULTS, SearchQuery
from crm_contacts.storage.organizations import _to_organization, organizations
from crm_contacts.storage.repository import _to_person
from crm_contacts.storage.tables import people

Record = Person | Organization

_SQLITE_SEARCH = text(
    """
    SELECT k.kind, k.record_id
    FROM contact_search JOIN contact_search_keys AS k ON k.doc = contact_search.rowid
    WHERE contact_search MATCH :prefixed AND (:kind IS NULL OR k.kind = :kind)
    ORDER BY contact_search.rowid NOT IN (
                 SELECT rowid FROM contact_search WHERE contact_search MATCH :whole),
             bm25(contact_search, 10.0, 1.0),
             k.doc
    LIMIT :limit OFFSET :offset
    """
)

# Only the first MAX_RESULTS candidates a scan finds, in whatever order, are
# ranked: a word most records share (a mail domain, a one-letter prefix) then
# costs a short scan rather than ranking the whole table. Whole-word matches
# are looked for first, so a prefix's many completions never crowd them out;
# as they also rank first, the prefix scan only runs when they cannot fill the
# page asked for.
_POSTGRESQL_SEARCH = text(
    """
    WITH whole AS MATERIALIZED (
        SELECT kind, record_id, names, document FROM contact_search
        WHERE document @@ contact_search_query(:words, false)
          AND (CAST(:kind AS text) IS NULL OR kind = :kind)
        LIMIT :candidates
    ), prefixed AS (
        SELECT kind, record_id, names, document FROM contact_search
        WHERE document @@ contact_search_query(:words, true)
          AND (CAST(:kind AS text) IS NULL OR kind = :kind)
          AND (SELECT count(*) FROM whole) < :page_end
        LIMIT :candidates
    ), candidates AS (
        SELECT *, false AS partial FROM whole
        UNION ALL
        SELECT *, true AS partial FROM prefixed AS p
        WHERE NOT EXISTS (
            SELECT FROM whole AS w WHERE w.kind = p.kind AND w.record_id = p.record_id)
    )
    SELECT kind, record_id FROM candidates
    ORDER BY names = contact_search_fold(:text) DESC,
             partial,
             starts_with(names, contact_search_fold(:text)) DESC,
             ts_rank(document, contact_search_query(:words, true)) DESC,
             kind, record_id
    LIMIT :limit OFFSET :offset
    """
).bindparams(bindparam("words", type_=ARRAY(Text)))

# Whether a word is common decides the plan: a sequential scan that stops at
# the candidate limit, or the GIN index. A cached generic plan cannot see the
# words, so each search is planned for its own.
_POSTGRESQL_PLAN_PER_QUERY = text("SET LOCAL plan_cache_mode = force_custom_plan")

# unicode61 splits words at anything but letters and digits; keeping only those
# leaves nothing FTS5 could read as syntax (quotes, *, ^, :, AND, NEAR).
_WORD_PARTS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchHit:
    kind: ContactKind
    record_id: str


class ContactSearch:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, query: SearchQuery, offset: int, limit: int) -> list[SearchHit]:
        """Up to `limit` hits from `offset` on in the ranking, best first."""
        if self._session.bind.dialect.name == "sqlite":
            rows = await self._find_sqlite(query, offset, limit)
        else:
            rows = await self._find_postgresql(query, offset, limit)
        return [SearchHit(ContactKind(row.kind), row.record_id) for row in rows]

    async def load(self, hits: Sequence[SearchHit]) -> list[Record]:
        """The records hit, in order, in one query per kind; any deleted meanwhile is left out."""
        found = await self._by_id(people, _to_person, ContactKind.PERSON, hits)
        found |= await self._by_id(organizations, _to_organization, ContactKind.ORGANIZATION, hits)
        return [found[hit] for hit in hits if hit in found]

    async def _find_sqlite(self, query: SearchQuery, offset: int, limit: int) -> Sequence[Row]:
        phrases = fts5_phrases(query.words)
        if not phrases:
            return []
        whole = " ".join(phrases)
        result = await self._session.execute(
            _SQLITE_SEARCH,
            {
                "whole": whole,
                "prefixed": whole + "*",
                "kind": _kind(query),
                "limit": limit,
                "offset": offset,
            },
        )
        return result.all()

    async def _find_postgresql(self, query: SearchQuery, offset: int, limit: int) -> Sequence[Row]:
        await self._session.execute(_POSTGRESQL_PLAN_PER_QUERY)
        result = await self._session.execute(
            _POSTGRESQL_SEARCH,
            {
                "words": list(query.words),
                "text": query.text,
                "kind": _kind(query),
                "candidates": MAX_RESULTS,
                "page_end": offset + limit,
                "limit": limit,
                "offset": offset,
            },
        )
        return result.all()

    async def _by_id(
        self,
        table: Table,
        to_record: Callable[[Row], Record],
        kind: ContactKind,
        hits: Sequence[SearchHit],
    ) -> dict[SearchHit, Record]:
        ids = [hit.record_id for hit in hits if hit.kind is kind]
        if not ids:
            return {}
        rows = await self._session.execute(select(table).where(table.c.id.in_(ids)))
        return {SearchHit(kind, row.id): to_record(row) for row in rows}


def fts5_phrases(words: Sequence[str]) -> list[str]:
    """Each word as a quoted FTS5 phrase of its letters and digits; empty ones dropped.

    `ada@example.com` becomes `"ada example com"`, which matches the address
    as FTS5 tokenized it.
    """
    parts = (_WORD_PARTS.findall(word) for word in words)
    return [f'"{" ".join(word_parts)}"' for word_parts in parts if word_parts]


def _kind(query: SearchQuery) -> str | None:
    return query.kind.value if query.kind else None
