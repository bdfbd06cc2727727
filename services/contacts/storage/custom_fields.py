"""Custom field definitions, and the values records hold, stored for querying.

A record keeps its values in its own JSON column (what it reads back); a
values table per kind of record holds them again one a row, typed, so that
filters and sorts on any field defined at run time are index lookups on
both SQLite and PostgreSQL, and so that the database itself refuses to
delete a definition some record still uses (foreign key).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    exists,
    insert,
    not_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import Join

from crm_common.errors import Aborted, AlreadyExists, FailedPrecondition
from crm_common.filtering import Comparison, Has, Op
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, FieldBinding
from crm_common.storage.keyset import paged
from crm_contacts.domain.custom_fields import (
    ContactKind,
    CustomFieldDefinition,
    CustomScalar,
    CustomValue,
    DefinitionSpec,
    FieldType,
)
from crm_contacts.storage.tables import metadata, people

# Text values are compared in full, but indexed by their first characters:
# a whole 1000-character value can exceed PostgreSQL's B-tree entry limit.
TEXT_KEY_LENGTH = 200

custom_field_definitions = Table(
    "custom_field_definitions",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("options", JSON, nullable=False),
    Column("applies_to", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)


def custom_values_table(name: str, records: Table) -> Table:
    """The values table for one kind of record (`records` has an `id` key).

    Text-like values (text, option, URL) go to text_value, the others to
    number_value: booleans as 0/1 and dates as day numbers, so that both
    compare and sort in the database as they do in Python.
    """
    return Table(
        name,
        metadata,
        Column(
            "record_id",
            String(63),
            ForeignKey(records.c.id, ondelete="CASCADE"),
            primary_key=True,
        ),
        # No ON DELETE: a definition in use cannot be deleted.
        Column("field_id", String(63), ForeignKey(custom_field_definitions.c.id), primary_key=True),
        Column("text_value", Text),
        Column("text_key", String(TEXT_KEY_LENGTH)),
        Column("number_value", Float),
        Index(f"ix_{name}_text", "field_id", "text_key", "record_id"),
        Index(f"ix_{name}_number", "field_id", "number_value", "record_id"),
    )


person_custom_values = custom_values_table("person_custom_values", people)

_TEXT_TYPES = frozenset({FieldType.TEXT, FieldType.SINGLE_SELECT, FieldType.URL})


# --- Values in a record's JSON column ----------------------------------------


def values_to_json(values: Mapping[str, CustomValue]) -> dict[str, dict[str, Any]]:
    """`{"region": {"option": "emea"}, "since": {"date": "2024-05-01"}}`."""
    return {key: {_type_of(v).value: _json_scalar(v.value)} for key, v in values.items()}


def values_from_json(stored: Mapping[str, Mapping[str, Any]]) -> dict[str, CustomValue]:
    values = {}
    for key, typed in stored.items():
        ((type_name, raw),) = typed.items()
        field_type = FieldType(type_name)
        value = date.fromisoformat(raw) if field_type is FieldType.DATE else raw
        values[key] = CustomValue(field_type, value)
    return values


def _type_of(value: CustomValue) -> FieldType:
    assert value.type is not None, "stored values are normalised"
    return value.type


def _json_scalar(value: CustomScalar) -> str | float | bool:
    return value.isoformat() if isinstance(value, date) else value


# --- Values one a row -----------------------------------------------------------


def _indexed(field_type: FieldType, value: CustomScalar | datetime) -> tuple[str, Any]:
    """The column a value lives in and its form there; filters go through here too."""
    if field_type in _TEXT_TYPES:
        return "text_value", str(value)
    if isinstance(value, datetime):
        # An instant compares with a date as the date's midnight UTC would.
        midnight = datetime.combine(value.date(), time(), value.tzinfo)
        return "number_value", value.toordinal() + (value - midnight).total_seconds() / 86400
    if isinstance(value, date):
        return "number_value", float(value.toordinal())
    return "number_value", float(value)


def _row(record_id: str, key: str, value: CustomValue) -> dict[str, Any]:
    column, indexed = _indexed(_type_of(value), value.value)
    row = {
        "record_id": record_id,
        "field_id": key,
        "text_value": None,
        "text_key": None,
        "number_value": None,
    }
    row[column] = indexed
    if column == "text_value":
        row["text_key"] = indexed[:TEXT_KEY_LENGTH]
    return row


class CustomValueRows:
    """Keeps a values table in step with the records' JSON columns."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self._session = session
        self._table = table

    async def replace(self, record_id: str, values: Mapping[str, CustomValue]) -> None:
        await self.delete(record_id)
        if values:
            rows = [_row(record_id, key, value) for key, value in values.items()]
            await self._session.execute(insert(self._table), rows)

    async def delete(self, record_id: str) -> None:
        await self._session.execute(delete(self._table).where(self._table.c.record_id == record_id))

    async def insert_many(self, values: Mapping[str, Mapping[str, CustomValue]]) -> None:
        """The rows of records that hold none yet (new ones), keyed by record id: one statement."""
        rows = [
            _row(record_id, key, value)
            for record_id, held in values.items()
            for key, value in held.items()
        ]
        if rows:
            await self._session.execute(insert(self._table), rows)

    async def in_use(self, field_id: str, texts: Sequence[str] | None = None) -> bool:
        """Whether any record holds the field, or (given `texts`) one of those values."""
        condition = self._table.c.field_id == field_id
        if texts is not None:
            keys = {text[:TEXT_KEY_LENGTH] for text in texts}
            condition = and_(
                condition, self._table.c.text_key.in_(keys), self._table.c.text_value.in_(texts)
            )
        return bool((await self._session.execute(select(exists().where(condition)))).scalar())


# --- Filters and sorts ------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq on SQL columns would build SQL, not compare
class CustomValueBinding(FieldBinding):
    """`custom_fields.<id>` of the records whose key is `record_key`."""

    table: Table
    record_key: ColumnElement[Any]
    field_id: str
    type: FieldType

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        if node.value is None:
            present = self._held()
            return not_(present) if node.op is Op.EQ else present
        column_name, value = _indexed(self.type, node.value)
        if column_name == "text_value" and node.op is Op.EQ:
            return self._held(*_text_equals(self.table, value))
        column = self.table.c[column_name]
        return self._held(ColumnBinding(column).compare(replace(node, value=value)))

    def has(self, node: Has) -> ColumnElement[bool]:
        if node.value is not None:
            return super().has(node)
        return self._held()

    def _held(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        return _holds(self.table, self.record_key, self.field_id, *conditions)


def _text_equals(table: Table, value: str) -> list[ColumnElement[bool]]:
    """Equality with a text value, as conditions the (field_id, text_key) index serves.

    A value shorter than the key length is its own key, and only its own
    value has that key: the key alone decides, so a probe reads the index
    only, and the planner does not multiply the selectivities of what is
    one condition written twice (which made it expect a sixteenth of the
    matches and sort every match instead of walking the page's order).
    """
    key = table.c.text_key == value[:TEXT_KEY_LENGTH]
    if len(value) < TEXT_KEY_LENGTH:
        return [key]
    return [key, table.c.text_value == value]


def _holds(
    table: Table, record_key: ColumnElement[Any], field_id: str, *conditions: ColumnElement[bool]
) -> ColumnElement[bool]:
    """Whether the outer query's record holds the field (with a value meeting `conditions`)."""
    return exists().where(
        table.c.record_id == record_key, table.c.field_id == field_id, *conditions
    )


@dataclass(frozen=True)
class CustomSort:
    """Sorting by a custom field.

    Records without a value come last whichever the direction. In SQL the
    field is two keys: `missing` (0 or 1, ascending), then the value, NULL
    when missing (keyset comparisons treat that as `IS NULL`). Page tokens
    carry both, whichever way a page is fetched (see `sorted_page`).
    """

    alias: Any  # the values table, aliased for this sort's join
    join_on: ColumnElement[bool]
    held: ColumnElement[bool]  # whether the outer query's record holds the field
    missing: ColumnElement[Any]
    value: ColumnElement[Any]


def custom_sort(
    table: Table, record_key: ColumnElement[Any], definition: CustomFieldDefinition, label: str
) -> CustomSort:
    alias = table.alias(label)
    column = alias.c.text_value if definition.type in _TEXT_TYPES else alias.c.number_value
    return CustomSort(
        alias=alias,
        join_on=and_(alias.c.record_id == record_key, alias.c.field_id == definition.id),
        held=_holds(table, record_key, definition.id),
        missing=case((alias.c.record_id.is_(None), 1), else_=0),
        value=column,
    )


PageRows = list[tuple[Row[Any], list[Any]]]


async def sorted_page(
    session: AsyncSession,
    records: Table,
    where: ColumnElement[bool],
    keys: Sequence[SortKey],
    columns: Mapping[str, ColumnElement[Any]],
    sorts: Mapping[str, CustomSort],
    after: Sequence[Any] | None,
    size: int,
) -> PageRows:
    """Up to size + 1 records in `keys` order, each with the values its token needs.

    `sorts` holds the custom fields among the keys. Ordered by one custom
    field first (the usual case), the records holding it are read in the
    order of the values table's index and the others after them, so a page
    costs a few index lookups instead of sorting every record.
    """
    lead = sorts.get(keys[0].field) if keys else None
    if lead is None or len(sorts) > 1:
        expanded, all_columns = _expanded(keys, columns, sorts)
        joined = _outer_joined(records, sorts.values())
        return await _select_page(
            session, records, joined, where, expanded, all_columns, after, size
        )
    found: PageRows = []
    past_holders = after is not None and after[0] == 1
    if not past_holders:
        # The unique key `id` read from the values row too, so one index
        # (field_id, value, record_id) yields the whole order.
        holding_columns = {**columns, keys[0].field: lead.value, "id": lead.alias.c.record_id}
        holding = records.join(lead.alias, lead.join_on)
        rows = await _select_page(
            session, records, holding, where, keys, holding_columns, _rest(after, 1), size
        )
        found = [(row, [0, *values]) for row, values in rows]
        if len(found) > size:
            return found
    rest = keys[1:]
    rows = await _select_page(
        session,
        records,
        records,
        and_(where, not_(lead.held)),
        rest,
        columns,
        _rest(after, 2) if past_holders else None,
        size - len(found),
    )
    return found + [(row, [1, None, *values]) for row, values in rows]


def _rest(after: Sequence[Any] | None, skip: int) -> Sequence[Any] | None:
    return None if after is None else after[skip:]


async def _select_page(
    session: AsyncSession,
    records: Table,
    from_: Table | Join,
    where: ColumnElement[bool],
    keys: Sequence[SortKey],
    columns: Mapping[str, ColumnElement[Any]],
    after: Sequence[Any] | None,
    size: int,
) -> PageRows:
    labelled = [columns[key.field].label(f"sort_key_{i}") for i, key in enumerate(keys)]
    statement = select(records, *labelled).select_from(from_).where(where)
    rows = (await session.execute(paged(statement, keys, columns, after, size))).all()
    return [(row, list(row[-len(keys) :])) for row in rows]


def _expanded(
    keys: Sequence[SortKey],
    columns: Mapping[str, ColumnElement[Any]],
    sorts: Mapping[str, CustomSort],
) -> tuple[tuple[SortKey, ...], dict[str, ColumnElement[Any]]]:
    """The keys as SQL sorts them: each custom key becomes `missing` then the value."""
    expanded: list[SortKey] = []
    all_columns = dict(columns)
    for key in keys:
        sort = sorts.get(key.field)
        if sort is None:
            expanded.append(key)
            continue
        missing = f"{key.field}#missing"
        expanded += [SortKey(missing), key]
        all_columns[missing] = sort.missing
        all_columns[key.field] = sort.value
    return tuple(expanded), all_columns


def _outer_joined(records: Table, sorts: Iterable[CustomSort]) -> Table | Join:
    joined: Table | Join = records
    for sort in sorts:
        joined = joined.outerjoin(sort.alias, sort.join_on)
    return joined


# --- Definitions ------------------------------------------------------------------


class CustomFieldDefinitionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, definition_id: str, *, lock: bool = False) -> CustomFieldDefinition | None:
        """`lock`: held until commit, so usage checks and the change are atomic."""
        query = select(custom_field_definitions).where(
            custom_field_definitions.c.id == definition_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return _to_definition(row) if row else None

    async def get_many(
        self, definition_ids: Iterable[str], *, share: bool = False
    ) -> dict[str, CustomFieldDefinition]:
        """The definitions that exist among `definition_ids`.

        `share` locks them against changes until commit (PostgreSQL; SQLite
        has one writer anyway), so that an option cannot be removed while a
        record being written takes it up.
        """
        wanted = sorted(set(definition_ids))
        if not wanted:
            return {}
        query = select(custom_field_definitions).where(custom_field_definitions.c.id.in_(wanted))
        if share:
            query = query.with_for_update(read=True)
        rows = (await self._session.execute(query)).all()
        return {row.id: _to_definition(row) for row in rows}

    async def add(self, definition: CustomFieldDefinition) -> None:
        if await self.get(definition.id) is not None:
            raise AlreadyExists(f"customFieldDefinitions/{definition.id} already exists")
        try:
            await self._session.execute(
                insert(custom_field_definitions).values(_to_row(definition))
            )
        except IntegrityError as error:  # created concurrently
            raise AlreadyExists(f"customFieldDefinitions/{definition.id} already exists") from error

    async def save(self, definition: CustomFieldDefinition, expected_version: int) -> None:
        result = await self._session.execute(
            update(custom_field_definitions)
            .where(
                custom_field_definitions.c.id == definition.id,
                custom_field_definitions.c.version == expected_version,
            )
            .values(_to_row(definition))
        )
        if result.rowcount != 1:
            raise Aborted(f"customFieldDefinitions/{definition.id} was changed concurrently")

    async def delete(self, definition_id: str) -> None:
        try:
            await self._session.execute(
                delete(custom_field_definitions).where(
                    custom_field_definitions.c.id == definition_id
                )
            )
        except IntegrityError as error:
            # The foreign key caught a value written since the usage check.
            raise FailedPrecondition(
                f"customFieldDefinitions/{definition_id} is in use; remove its values first"
            ) from error

    async def page(self, after: Sequence[Any] | None, size: int) -> list[CustomFieldDefinition]:
        query = paged(
            select(custom_field_definitions),
            (SortKey("id"),),
            {"id": custom_field_definitions.c.id},
            after,
            size,
        )
        return [_to_definition(row) for row in (await self._session.execute(query)).all()]


def _to_row(definition: CustomFieldDefinition) -> dict[str, Any]:
    spec = definition.spec
    return {
        "id": definition.id,
        "display_name": spec.display_name,
        "type": definition.type.value,
        "options": list(spec.options),
        "applies_to": [kind.value for kind in spec.applies_to if kind is not None],
        "description": spec.description,
        "create_time": definition.create_time,
        "update_time": definition.update_time,
        "version": definition.version,
    }


def _to_definition(row: Row[Any]) -> CustomFieldDefinition:
    return CustomFieldDefinition(
        id=row.id,
        spec=DefinitionSpec(
            display_name=row.display_name,
            type=FieldType(row.type),
            options=tuple(row.options),
            applies_to=tuple(ContactKind(kind) for kind in row.applies_to),
            description=row.description,
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )
