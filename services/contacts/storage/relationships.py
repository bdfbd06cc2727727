"""The relationship tables and repositories.

Ends are stored as resource names (`people/1`, `organizations/2`): a link may
join either kind, so no foreign key can guard them. Deleting a record must
therefore remove its links explicitly: `delete_relationships_of`.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    Row,
    Select,
    String,
    Table,
    delete,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import Expr, FilterField, FilterSchema
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, FieldBinding, filter_clause
from crm_common.storage.keyset import order_clauses, paged
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.relationships import (
    TYPE_PREFIX,
    RecordRef,
    Relationship,
    RelationshipDetails,
    RelationshipType,
    plan_repoint,
)
from crm_contacts.storage.tables import metadata

RESOURCE_NAME_MAX = 100  # "organizations/" and a 63-character id, with room to spare

relationship_types = Table(
    "relationship_types",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("inverse_display_name", String(100), nullable=False),
    Column("from_kind", String(20), nullable=False),
    Column("to_kind", String(20), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

relationships = Table(
    "relationships",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("type_id", String(63), ForeignKey("relationship_types.id"), nullable=False),
    Column("from_resource", String(RESOURCE_NAME_MAX), nullable=False),
    Column("to_resource", String(RESOURCE_NAME_MAX), nullable=False),
    Column("role", String(200), nullable=False),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # A record's links are listed from both ends, newest first: one index per
    # end, each in list order, so a page reads two short index ranges.
    Index("ix_relationships_from", "from_resource", "create_time", "id"),
    Index("ix_relationships_to", "to_resource", "create_time", "id"),
    # One open link of a type between the same two records; ended ones may
    # repeat (someone left and came back).
    Index(
        "ux_relationships_open",
        "type_id",
        "from_resource",
        "to_resource",
        unique=True,
        sqlite_where=text("end_date IS NULL"),
        postgresql_where=text("end_date IS NULL"),
    ),
)

TYPE_SORT_COLUMNS = {"id": relationship_types.c.id}
TYPE_ORDER = (SortKey("id"),)
SORT_COLUMNS = {"create_time": relationships.c.create_time, "id": relationships.c.id}
LIST_ORDER = (SortKey("create_time", descending=True), SortKey("id", descending=True))

FILTER_SCHEMA = FilterSchema(
    {
        "type": FilterField.string(),
        "role": FilterField.string(),
        "current": FilterField.boolean(),
    }
)


def _filter_bindings(today: date) -> dict[str, FieldBinding]:
    return {
        # Clients filter on the type's resource name, as the API shows it.
        "type": ColumnBinding(literal(TYPE_PREFIX, String) + relationships.c.type_id),
        "role": ColumnBinding(relationships.c.role),
        # Relationship.is_current in SQL: no end date, or one still ahead.
        "current": ColumnBinding(
            or_(relationships.c.end_date.is_(None), relationships.c.end_date > today)
        ),
    }


class RelationshipTypeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, type_id: str) -> RelationshipType | None:
        query = select(relationship_types).where(relationship_types.c.id == type_id)
        row = (await self._session.execute(query)).first()
        return _to_type(row) if row else None

    async def add(self, relationship_type: RelationshipType) -> None:
        taken = AlreadyExists(f"{relationship_type.name} already exists")
        if await self.get(relationship_type.id) is not None:
            raise taken
        try:
            await self._session.execute(
                insert(relationship_types).values(_type_to_row(relationship_type))
            )
        except IntegrityError as error:  # created concurrently
            raise taken from error

    async def page(self, after: Sequence[Any] | None, size: int) -> list[RelationshipType]:
        query = paged(select(relationship_types), TYPE_ORDER, TYPE_SORT_COLUMNS, after, size)
        return [_to_type(row) for row in (await self._session.execute(query)).all()]


class RelationshipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, relationship_id: str) -> Relationship | None:
        query = select(relationships).where(relationships.c.id == relationship_id)
        row = (await self._session.execute(query)).first()
        return _to_relationship(row) if row else None

    async def add(self, relationship: Relationship) -> None:
        await self._refuse_duplicate(relationship)
        await self._write(insert(relationships).values(_to_row(relationship)), relationship)

    async def save(self, relationship: Relationship, expected_version: int) -> None:
        await self._refuse_duplicate(relationship)
        result = await self._write(
            update(relationships)
            .where(
                relationships.c.id == relationship.id,
                relationships.c.version == expected_version,
            )
            .values(_to_row(relationship)),
            relationship,
        )
        if result.rowcount != 1:
            raise Aborted(f"{relationship.name} was changed concurrently; get it again and retry")

    async def delete(self, relationship_id: str) -> None:
        await self._session.execute(
            delete(relationships).where(relationships.c.id == relationship_id)
        )

    async def page_of(
        self,
        resource: str,
        expr: Expr | None,
        today: date,
        after: Sequence[Any] | None,
        size: int,
    ) -> list[Relationship]:
        query = list_query(resource, filter_clause(expr, _filter_bindings(today)), after, size)
        return [_to_relationship(row) for row in (await self._session.execute(query)).all()]

    async def _refuse_duplicate(self, relationship: Relationship) -> None:
        # Checked first for a message naming the existing link; the unique
        # index still settles a race between two concurrent creates.
        if not relationship.is_open:
            return
        query = select(relationships.c.id).where(
            relationships.c.type_id == relationship.type_id,
            relationships.c.from_resource == relationship.from_.name,
            relationships.c.to_resource == relationship.to.name,
            relationships.c.end_date.is_(None),
            relationships.c.id != relationship.id,
        )
        existing = (await self._session.execute(query)).scalar()
        if existing is not None:
            raise AlreadyExists(_duplicate_message(relationship, f"relationships/{existing}"))

    async def _write(self, statement: Any, relationship: Relationship) -> Any:
        try:
            return await self._session.execute(statement)
        except IntegrityError as error:
            raise AlreadyExists(_duplicate_message(relationship, "another relationship")) from error


def _duplicate_message(relationship: Relationship, existing: str) -> str:
    return (
        f"{existing} already links {relationship.from_.name} to {relationship.to.name} "
        f"as {relationship.type_name} with no end date"
    )


def list_query(
    resource: str, where: ColumnElement[bool], after: Sequence[Any] | None, size: int
) -> Select[Any]:
    """One page of the links at either end of `resource`, newest first.

    `from = X OR to = X` would have to sort every link of a busy record for
    each page; instead each end reads one page from its own index and the two
    are merged. A link never has the same record at both ends, so no row
    comes twice.
    """
    ends = [
        paged(
            select(relationships).where(end == resource, where),
            LIST_ORDER,
            SORT_COLUMNS,
            after,
            size,
        ).subquery()
        for end in (relationships.c.from_resource, relationships.c.to_resource)
    ]
    both = union_all(*(select(end) for end in ends)).subquery()
    columns = {name: both.c[name] for name in SORT_COLUMNS}
    return select(both).order_by(*order_clauses(LIST_ORDER, columns)).limit(size + 1)


async def delete_relationships_of(session: AsyncSession, resource_name: str) -> None:
    """Removes every link at either end of a record being deleted."""
    await session.execute(
        delete(relationships).where(
            or_(
                relationships.c.from_resource == resource_name,
                relationships.c.to_resource == resource_name,
            )
        )
    )


async def repoint_relationships(
    session: AsyncSession, from_resource: str, to_resource: str
) -> None:
    """Moves the links of `from_resource` to `to_resource`, as merging records does.

    Links that would join `to_resource` to itself, and duplicates of links it
    already has, are dropped (see `plan_repoint`).
    """
    old, new = RecordRef.parse(from_resource), RecordRef.parse(to_resource)
    if old is None or new is None:
        raise ValueError(f"cannot repoint {from_resource!r} to {to_resource!r}")
    query = select(relationships).where(
        or_(
            relationships.c.from_resource.in_((old.name, new.name)),
            relationships.c.to_resource.in_((old.name, new.name)),
        )
    )
    links = [_to_relationship(row) for row in (await session.execute(query)).all()]
    plan = plan_repoint(links, old, new, datetime.now(UTC))
    if plan.dropped:
        dropped = [link.id for link in plan.dropped]
        await session.execute(delete(relationships).where(relationships.c.id.in_(dropped)))
    # Dropping first, and moved links all ending at `new` where none of the
    # old ones did, keeps the open-link index satisfied at every step.
    repository = RelationshipRepository(session)
    for link in plan.moved:
        # plan_repoint advanced each moved link by one version.
        await repository.save(link, expected_version=link.version - 1)


def _type_to_row(relationship_type: RelationshipType) -> dict[str, Any]:
    return {
        "id": relationship_type.id,
        "display_name": relationship_type.display_name,
        "inverse_display_name": relationship_type.inverse_display_name,
        "from_kind": relationship_type.from_kind.value,
        "to_kind": relationship_type.to_kind.value,
        "create_time": relationship_type.create_time,
        "version": relationship_type.version,
    }


def _to_type(row: Row) -> RelationshipType:
    return RelationshipType(
        id=row.id,
        display_name=row.display_name,
        inverse_display_name=row.inverse_display_name,
        from_kind=ContactKind(row.from_kind),
        to_kind=ContactKind(row.to_kind),
        create_time=row.create_time,
        version=row.version,
    )


def _to_row(relationship: Relationship) -> dict[str, Any]:
    details = relationship.details
    return {
        "id": relationship.id,
        "type_id": relationship.type_id,
        "from_resource": relationship.from_.name,
        "to_resource": relationship.to.name,
        "role": details.role,
        "start_date": details.start_date,
        "end_date": details.end_date,
        "create_time": relationship.create_time,
        "update_time": relationship.update_time,
        "version": relationship.version,
    }


def _to_relationship(row: Row) -> Relationship:
    return Relationship(
        id=row.id,
        type_id=row.type_id,
        from_=_stored_record(row.from_resource),
        to=_stored_record(row.to_resource),
        details=RelationshipDetails(row.role, row.start_date, row.end_date),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )


def _stored_record(name: str) -> RecordRef:
    record = RecordRef.parse(name)
    if record is None:  # only names that parsed are ever written
        raise ValueError(f"corrupt relationship end {name!r}")
    return record
