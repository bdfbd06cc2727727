"""Macros, triggers, automations, and which tickets each automation acted on."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import MAX_FILTER_LENGTH, Expr
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, filter_clause
from crm_common.storage.keyset import paged
from crm_support.domain.actions import (
    ACTION_FIELDS,
    Action,
    AddComment,
    AddFollowers,
    AddTags,
    RemoveTags,
    SetAssignee,
    SetCustomField,
    SetGroup,
    SetPriority,
    SetStatus,
    SetType,
)
from crm_support.domain.automation import (
    DESCRIPTION_MAX,
    DISPLAY_NAME_MAX,
    Automation,
    Macro,
    R,
    Trigger,
    TriggerEvent,
)
from crm_support.domain.tickets import Priority, TicketStatus, TicketType
from crm_support.storage.tables import metadata
from crm_support.storage.tickets import FILTER_BINDINGS, tickets


def _common_columns() -> list[Column[Any]]:
    return [
        Column("id", String(63), primary_key=True),
        Column("display_name", String(DISPLAY_NAME_MAX), nullable=False),
        Column("description", String(DESCRIPTION_MAX), nullable=False),
        Column("active", Boolean, nullable=False),
        # The actions as JSON objects shaped like the contract's TicketAction.
        Column("actions", JSON, nullable=False),
        Column("create_time", UtcDateTime, nullable=False),
        Column("update_time", UtcDateTime, nullable=False),
        Column("version", Integer, nullable=False),
    ]


macros = Table(
    "macros",
    metadata,
    *_common_columns(),
    Index("ix_macros_display_name", "display_name", "id"),
)

triggers = Table(
    "triggers",
    metadata,
    *_common_columns(),
    Column("position", Integer, nullable=False),
    Column("on_create", Boolean, nullable=False),
    Column("on_update", Boolean, nullable=False),
    Column("condition", String(MAX_FILTER_LENGTH), nullable=False),
    Index("ix_triggers_position", "position", "id"),
)

automations = Table(
    "automations",
    metadata,
    *_common_columns(),
    Column("position", Integer, nullable=False),
    Column("condition", String(MAX_FILTER_LENGTH), nullable=False),
    Index("ix_automations_position", "position", "id"),
)

# One row per ticket an automation acted on (or tried to): the key makes
# "at most once" hold across replicas, which race to insert it.
automation_applications = Table(
    "automation_applications",
    metadata,
    Column(
        "automation_id",
        String(63),
        ForeignKey(automations.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("ticket_id", String(63), ForeignKey(tickets.c.id, ondelete="CASCADE"), primary_key=True),
    Column("apply_time", UtcDateTime, nullable=False),
    # Why the actions did not apply (e.g. a refused status transition); "" when they did.
    Column("failure", Text, nullable=False),
    Index("ix_automation_applications_ticket", "ticket_id"),
)


# --- Actions as JSON ---------------------------------------------------------------


def actions_to_json(actions: Sequence[Action]) -> list[dict[str, Any]]:
    return [{ACTION_FIELDS[type(action)]: _action_json(action)} for action in actions]


def _action_json(action: Action) -> Any:
    match action:
        case SetStatus(value) | SetPriority(value) | SetType(value):
            return value.name
        case SetGroup(value) | SetAssignee(value):
            return value
        case AddTags(values) | RemoveTags(values) | AddFollowers(values):
            return list(values)
        case SetCustomField(key, value):
            return {"key": key, "value": value}
        case AddComment(body, public, author):
            return {"body": body, "public": public, "author": author}
    raise TypeError(f"not an action: {action!r}")


_FROM_JSON: dict[str, Callable[[Any], Action]] = {
    "set_status": lambda v: SetStatus(TicketStatus[v]),
    "set_priority": lambda v: SetPriority(Priority[v]),
    "set_type": lambda v: SetType(TicketType[v]),
    "set_group": SetGroup,
    "set_assignee": SetAssignee,
    "add_tags": lambda v: AddTags(tuple(v)),
    "remove_tags": lambda v: RemoveTags(tuple(v)),
    "set_custom_field": lambda v: SetCustomField(**v),
    "add_followers": lambda v: AddFollowers(tuple(v)),
    "add_comment": lambda v: AddComment(**v),
}


def actions_from_json(stored: list[dict[str, Any]]) -> tuple[Action, ...]:
    return tuple(_FROM_JSON[kind](value) for item in stored for kind, value in item.items())


# --- Rows -----------------------------------------------------------------------


def _row(resource: Macro | Trigger | Automation) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": resource.id,
        "display_name": resource.display_name,
        "description": resource.description,
        "active": resource.active,
        "actions": actions_to_json(resource.actions),
        "create_time": resource.create_time,
        "update_time": resource.update_time,
        "version": resource.version,
    }
    if isinstance(resource, Trigger | Automation):
        row.update(position=resource.position, condition=resource.condition)
    if isinstance(resource, Trigger):
        row.update(
            on_create=resource.fires_on(TriggerEvent.CREATE),
            on_update=resource.fires_on(TriggerEvent.UPDATE),
        )
    return row


def _common(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "display_name": row.display_name,
        "description": row.description,
        "active": row.active,
        "actions": actions_from_json(row.actions),
        "create_time": row.create_time,
        "update_time": row.update_time,
        "version": row.version,
    }


def _to_macro(row: Row[Any]) -> Macro:
    return Macro(**_common(row))


def _to_trigger(row: Row[Any]) -> Trigger:
    on = [
        event
        for event, held in (
            (TriggerEvent.CREATE, row.on_create),
            (TriggerEvent.UPDATE, row.on_update),
        )
        if held
    ]
    return Trigger(**_common(row), position=row.position, on=tuple(on), condition=row.condition)


def _to_automation(row: Row[Any]) -> Automation:
    return Automation(**_common(row), position=row.position, condition=row.condition)


# --- Repositories ---------------------------------------------------------------


class ConfiguredRepository(Generic[R]):
    """Storage of one kind: macros, triggers or automations."""

    def __init__(
        self,
        session: AsyncSession,
        kind: type[R],
        table: Table,
        to_resource: Callable[[Row[Any]], R],
        sort_columns: Mapping[str, ColumnElement[Any]],
    ) -> None:
        self.collection = kind.COLLECTION
        self._session = session
        self._table = table
        self._to_resource = to_resource
        self._sort_columns = sort_columns
        self._filter_bindings = {
            "display_name": ColumnBinding(table.c.display_name),
            "active": ColumnBinding(table.c.active),
        }

    async def get(self, resource_id: str) -> R | None:
        query = select(self._table).where(self._table.c.id == resource_id)
        row = (await self._session.execute(query)).first()
        return self._to_resource(row) if row else None

    async def add(self, resource: R) -> None:
        try:
            await self._session.execute(insert(self._table).values(_row(resource)))
        except IntegrityError as error:
            raise AlreadyExists(f"{resource.name} already exists") from error

    async def save(self, resource: R, expected_version: int) -> None:
        result = await self._session.execute(
            update(self._table)
            .where(self._table.c.id == resource.id, self._table.c.version == expected_version)
            .values(_row(resource))
        )
        if result.rowcount != 1:
            raise Aborted(f"{resource.name} was changed concurrently; get it again and retry")

    async def delete(self, resource: R) -> None:
        result = await self._session.execute(
            delete(self._table).where(
                self._table.c.id == resource.id, self._table.c.version == resource.version
            )
        )
        if result.rowcount != 1:
            raise Aborted(f"{resource.name} was changed concurrently; get it again and retry")

    async def last_position(self) -> int | None:
        return await self._session.scalar(select(func.max(self._table.c.position)))

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[R, list[Any]]]:
        """Up to size + 1 resources, each with the key values a page token carries."""
        query = select(self._table).where(filter_clause(expr, self._filter_bindings))
        statement = paged(query, keys, self._sort_columns, after, size)
        rows = (await self._session.execute(statement)).all()
        return [(self._to_resource(row), [getattr(row, k.field) for k in keys]) for row in rows]

    async def active(self) -> list[R]:
        """The active triggers or automations, in run order (position, then id)."""
        table = self._table
        query = select(table).where(table.c.active.is_(True)).order_by(table.c.position, table.c.id)
        return [self._to_resource(row) for row in (await self._session.execute(query)).all()]


def _columns(table: Table, *names: str) -> dict[str, ColumnElement[Any]]:
    return {name: table.c[name] for name in (*names, "id")}


def macro_repository(session: AsyncSession) -> ConfiguredRepository[Macro]:
    columns = _columns(macros, "display_name", "create_time", "update_time")
    return ConfiguredRepository(session, Macro, macros, _to_macro, columns)


def trigger_repository(session: AsyncSession) -> ConfiguredRepository[Trigger]:
    return ConfiguredRepository(
        session, Trigger, triggers, _to_trigger, _columns(triggers, "position")
    )


def automation_repository(session: AsyncSession) -> ConfiguredRepository[Automation]:
    columns = _columns(automations, "position")
    return ConfiguredRepository(session, Automation, automations, _to_automation, columns)


# --- Automation runs ------------------------------------------------------------


async def due_ticket_ids(
    session: AsyncSession, automation_id: str, condition: Expr | None, limit: int
) -> list[str]:
    """Up to `limit` tickets the automation has not acted on that match its
    condition now; closed tickets never do."""
    acted_on = exists().where(
        automation_applications.c.automation_id == automation_id,
        automation_applications.c.ticket_id == tickets.c.id,
    )
    query = (
        select(tickets.c.id)
        .where(
            filter_clause(condition, FILTER_BINDINGS),
            tickets.c.status != int(TicketStatus.CLOSED),
            ~acted_on,
        )
        .order_by(tickets.c.number)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def claim(
    session: AsyncSession, automation_id: str, ticket_id: str, now: datetime, failure: str = ""
) -> bool:
    """Records that the automation acts on the ticket; False when it already did
    (or another replica is doing so right now: the key makes it wait, then fail)."""
    row = {
        "automation_id": automation_id,
        "ticket_id": ticket_id,
        "apply_time": now,
        "failure": failure,
    }
    try:
        await session.execute(insert(automation_applications).values(row))
    except IntegrityError:
        return False
    return True
