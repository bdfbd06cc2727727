"""ImportContacts and ExportContacts: CSV rows in, records out, at any size.

An import reads its stream as it arrives and writes in batches, each batch
one unit of work: a few statements for the whole batch (look-ups, inserts)
instead of several per row, and every created or updated record announced
through the outbox in the same transaction. A failed row is reported and
skipped; the batch goes on. An export reads keyset pages, each in a short
transaction of its own, so memory stays flat and a slow client holds no
database connection.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists, InvalidArgument
from crm_common.filtering import Expr
from crm_common.messaging.envelope import OutgoingEvent
from crm_common.messaging.uow import UnitOfWork, UnitOfWorkFactory
from crm_common.pagination import SortKey
from crm_contacts.domain.csv_chunks import CsvChunkReader, MalformedRecord
from crm_contacts.domain.csv_chunks import Record as CsvRecord
from crm_contacts.domain.custom_fields import ContactKind, Definitions
from crm_contacts.domain.listing import (
    ORGANIZATIONS_LISTING,
    PEOPLE_LISTING,
    ListingSchema,
    ListQuery,
)
from crm_contacts.domain.model import Person
from crm_contacts.domain.transfer import (
    CSV_FIELD,
    Applied,
    ImportPlan,
    ImportRow,
    Outcome,
    Record,
    RowError,
    RowRejected,
    apply_row,
    custom_field_ids,
    parse_row,
    plan_import,
    resolve_target,
)
from crm_contacts.events import published
from crm_contacts.handlers.records import Page, checked_query, definitions_for
from crm_contacts.storage.custom_fields import CustomFieldDefinitionRepository
from crm_contacts.storage.organizations import OrganizationRepository
from crm_contacts.storage.repository import PersonRepository

# Rows per unit of work: large enough that per-statement costs vanish, small
# enough that a transaction stays short and a batch's IN lists stay far below
# the databases' parameter limits.
BATCH_SIZE = 500
MAX_ERRORS = 1000  # reported; failed_count still counts every failed row
EXPORT_PAGE_SIZE = 500


@dataclass(frozen=True)
class ImportSpec:
    kind: ContactKind
    column_mappings: Mapping[str, str]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        match outcome:
            case Outcome.CREATED:
                self.created += 1
            case Outcome.UPDATED:
                self.updated += 1
            case Outcome.UNCHANGED:
                self.unchanged += 1

    def fail(self, errors: Sequence[RowError]) -> None:
        self.failed += 1
        self.errors += errors[: max(0, MAX_ERRORS - len(self.errors))]

    def add(self, other: "ImportResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.errors += other.errors[: max(0, MAX_ERRORS - len(self.errors))]


class _Repository(Protocol):
    """What an import needs of PersonRepository and OrganizationRepository."""

    async def owners_of(self, keys: Collection[str]) -> dict[str, str]: ...
    async def get_many(self, ids: Collection[str]) -> Mapping[str, Any]: ...
    async def add_many(self, new: Sequence[Any]) -> None: ...
    async def save(self, record: Any, expected_version: int) -> None: ...
    async def page(
        self, query: ListQuery, after: Sequence[Any] | None, size: int
    ) -> Sequence[tuple[Any, list[Any]]]: ...


@dataclass(frozen=True)
class _Kind:
    """What differs between importing and exporting people and organizations."""

    repository: Callable[[AsyncSession], _Repository]
    listing: ListingSchema
    created: Callable[[Any], OutgoingEvent]
    updated: Callable[[Any, list[str]], OutgoingEvent]


_KINDS = {
    ContactKind.PERSON: _Kind(
        PersonRepository, PEOPLE_LISTING, published.contact_created, published.contact_updated
    ),
    ContactKind.ORGANIZATION: _Kind(
        OrganizationRepository,
        ORGANIZATIONS_LISTING,
        published.organization_created,
        published.organization_updated,
    ),
}


# --- Import --------------------------------------------------------------------


async def import_contacts(
    units: UnitOfWorkFactory, spec: ImportSpec, chunks: AsyncIterator[bytes]
) -> ImportResult:
    """Imports the CSV text `chunks` carry; INVALID_ARGUMENT only for the stream as a whole."""
    records = _csv_records(chunks)
    plan = await _plan(units, spec, await _header_row(records))
    result = ImportResult()
    writer = _BatchWriter(units, plan, result)
    batch: list[ImportRow] = []
    number = 0
    try:
        async for record in records:
            number += 1
            try:
                row = _parsed(plan, number, record)
            except RowRejected as rejected:
                result.fail(rejected.errors)
                continue
            if row is not None:
                batch.append(row)
            if len(batch) >= BATCH_SIZE:
                await writer.submit(batch)
                batch = []
        await writer.finish(batch)
    finally:
        await writer.settle()
    # Batches and rows failing while read interleave; report in file order.
    result.errors.sort(key=lambda error: error.row)
    return result


class _BatchWriter:
    """Writes one batch while the next is read and parsed.

    Writing waits on the database for much of its time (on SQLite in a
    thread of its own), which reading the stream can use. One batch at a
    time, in order: each sees what the one before wrote, and takes over the
    rows it deferred.
    """

    def __init__(self, units: UnitOfWorkFactory, plan: ImportPlan, result: ImportResult) -> None:
        self._units = units
        self._plan = plan
        self._result = result
        self._writing: asyncio.Task[list[ImportRow]] | None = None

    async def submit(self, rows: list[ImportRow]) -> None:
        """Starts writing `rows` once the batch before them is written."""
        deferred = await self._writing if self._writing else []
        self._writing = asyncio.create_task(self._write(deferred + rows))

    async def finish(self, rows: list[ImportRow]) -> None:
        """Writes the last rows, and any deferred until nothing is left."""
        await self.submit(rows)
        while rows := await self._writing if self._writing else []:
            self._writing = asyncio.create_task(self._write(rows))

    async def settle(self) -> None:
        """When the import stops early: lets the batch being written end, committed or not."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)

    async def _write(self, rows: list[ImportRow]) -> list[ImportRow]:
        return await _import_batch(self._units, self._plan, rows, self._result) if rows else []


async def _csv_records(chunks: AsyncIterator[bytes]) -> AsyncIterator[CsvRecord]:
    reader = CsvChunkReader()
    async for chunk in chunks:
        for record in reader.feed(chunk):
            yield record
    for record in reader.close():
        yield record


async def _header_row(records: AsyncIterator[CsvRecord]) -> list[str]:
    """The first non-blank record; the rows follow it in `records`."""
    async for record in records:
        if isinstance(record, MalformedRecord):
            raise InvalidArgument.single(CSV_FIELD, f"the header row is {record.description}")
        if any(cell.strip() for cell in record):
            return record
    raise InvalidArgument.single(CSV_FIELD, "holds no CSV header row; the stream ended first")


async def _plan(units: UnitOfWorkFactory, spec: ImportSpec, header: list[str]) -> ImportPlan:
    wanted = custom_field_ids(spec.kind, header, spec.column_mappings)
    async with units() as uow:
        definitions = await CustomFieldDefinitionRepository(uow.session).get_many(wanted)
    return plan_import(spec.kind, header, spec.column_mappings, definitions)


def _parsed(plan: ImportPlan, number: int, record: CsvRecord) -> ImportRow | None:
    if isinstance(record, MalformedRecord):
        raise RowRejected([RowError(number, "", record.description)])
    return parse_row(plan, number, record)


async def _import_batch(
    units: UnitOfWorkFactory, plan: ImportPlan, rows: list[ImportRow], result: ImportResult
) -> list[ImportRow]:
    """Imports `rows` into `result`; returns those to go into the next batch."""
    try:
        tally, deferred = await _write_batch(units(), plan, rows)
    except (AlreadyExists, Aborted) as error:
        # Someone wrote a record the batch read, or took an id or email it
        # meant to use, after it looked: each row again, alone, now sees that.
        if len(rows) == 1:
            result.fail([RowError(rows[0].number, "", error.message)])
            return []
        deferred = []
        for row in rows:
            deferred += await _import_batch(units, plan, [row], result)
        return deferred
    result.add(tally)
    return deferred


async def _write_batch(
    uow: UnitOfWork, plan: ImportPlan, rows: list[ImportRow]
) -> tuple[ImportResult, list[ImportRow]]:
    """One unit of work for `rows`; returns its tally and the rows left for the next."""
    kind = _KINDS[plan.kind]
    async with uow:
        repository = kind.repository(uow.session)
        owners = await repository.owners_of({key for row in rows for key in row.keys})
        batch = _Batch(plan, rows)
        batch.resolve(owners)
        existing = await repository.get_many(batch.target_ids)
        needed = _custom_fields_needed(plan, existing.values())
        batch.apply(existing, await definitions_for(uow.session, needed), datetime.now(UTC))
        await repository.add_many([applied.record for applied in batch.created])
        for applied in batch.updated:
            await repository.save(applied.record, expected_version=applied.read_version)
        for applied in batch.created:
            uow.publish(kind.created(applied.record))
        for applied in batch.updated:
            uow.publish(kind.updated(applied.record, applied.changed))
        await uow.commit()
    return batch.tally, batch.deferred


class _Batch:
    """The rows of one unit of work, applied to what the database held when it began.

    So a row about a record, or holding a key (email, domain), that an
    earlier row of the batch already touched (held, took or gave up) waits
    for the next batch, which sees the earlier row's result.
    """

    def __init__(self, plan: ImportPlan, rows: list[ImportRow]) -> None:
        self.plan = plan
        self.rows = rows
        self.tally = ImportResult()
        # By row number: the id of the row's record, or why there is none.
        self.targets: dict[int, str | RowRejected] = {}
        self.created: list[Applied] = []
        self.updated: list[Applied] = []
        self.deferred: list[ImportRow] = []

    @property
    def target_ids(self) -> set[str]:
        return {target for target in self.targets.values() if isinstance(target, str)}

    def resolve(self, owners: Mapping[str, str]) -> None:
        """Finds each row's record; `owners` holds the records holding the rows' keys."""
        for row in self.rows:
            try:
                self.targets[row.number] = resolve_target(self.plan, row, owners)
            except RowRejected as rejected:
                self.targets[row.number] = rejected

    def apply(self, existing: Mapping[str, Any], definitions: Definitions, now: datetime) -> None:
        touched_ids: set[str] = set()
        touched_keys: set[str] = set()
        for row in self.rows:
            target = self.targets[row.number]
            if target in touched_ids or not touched_keys.isdisjoint(row.keys):
                self.deferred.append(row)
                continue
            if isinstance(target, RowRejected):
                self.tally.fail(target.errors)
                continue
            record = existing.get(target)
            held_before = _keys_of(record) if record is not None else ()
            try:
                applied = apply_row(self.plan, row, record, target, now, definitions)
            except RowRejected as rejected:
                self.tally.fail(rejected.errors)
                continue
            touched_ids.add(target)
            touched_keys.update(held_before, _keys_of(applied.record))
            self.tally.count(applied.outcome)
            if applied.outcome is Outcome.CREATED:
                self.created.append(applied)
            elif applied.outcome is Outcome.UPDATED:
                self.updated.append(applied)


def _custom_fields_needed(plan: ImportPlan, existing: Iterable[Record]) -> set[str]:
    """The rows' custom fields and, when those change, the ones the records hold
    (an update checks the record's whole custom map)."""
    if not plan.custom_keys:
        return set()
    held = {key for record in existing for key in record.details.custom_fields}
    return {*plan.custom_keys, *held}


def _keys_of(record: Record) -> tuple[str, ...]:
    """The keys a record holds, normalised: its emails (people) or domains."""
    if isinstance(record, Person):
        return tuple(record.normalised_emails)
    return record.details.domains


# --- Export --------------------------------------------------------------------


async def export_contacts(
    units: UnitOfWorkFactory, kind: ContactKind, expr: Expr | None
) -> AsyncIterator[Record]:
    """Every record of `kind` matching `expr`, in id order, a page at a time."""
    records = _KINDS[kind]
    keys = (SortKey("id"),)
    async with units() as uow:
        query = await checked_query(uow.session, records.listing, expr, keys)
    after: list[Any] | None = None
    while True:
        async with units() as uow:
            found = await records.repository(uow.session).page(query, after, EXPORT_PAGE_SIZE)
        page = Page.of(found, EXPORT_PAGE_SIZE)
        for record in page.items:
            yield record
        if page.next_key is None:
            return
        after = page.next_key
