"""What a unit of work's commit adds to `audit_entries`.

A commit inside an RPC writes one entry per resource it changed:

- from each event it publishes: the resource the payload names, the event
  type as the action, and the changed fields (`changed_fields` of an update
  event, the fields set on a created resource, none for a deletion);
- when it publishes none (agents, views, pipelines ... announce nothing),
  from the rows it wrote: every INSERT, UPDATE and DELETE through the unit of
  work's session is noted, and each row of a table with a one-column primary
  key becomes an entry for that resource, named as the request names it when
  it does (`agents/a1`), else `<table>/<key>`. Tables keyed by more than one
  column hold an aggregate's child rows, and their root's write is the entry.

Reads write nothing, so they record nothing; commits outside any RPC
(scheduled jobs, consumed events) are the service's own and not audited.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from sqlalchemy import BinaryExpression, BindParameter, Column, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import operators, visitors

from crm_common.audit.context import Actor, Call
from crm_common.messaging.envelope import OutgoingEvent

# Columns every aggregate keeps for itself: not what anyone changed.
_BOOKKEEPING = frozenset(
    {"id", "version", "etag", "created_at", "updated_at", "create_time", "update_time"}
)
_WRITES_KEY = "crm_audit_writes"
_ACTIONS = {"insert": "created", "update": "updated", "delete": "deleted"}


@dataclass(frozen=True)
class Write:
    """One row an RPC wrote: its table, its key, what happened, which columns."""

    table: str
    key: str
    action: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Executed:
    """A data-changing statement as executed, read only if the commit needs it
    (one that publishes events is audited from them)."""

    statement: Any
    action: str
    parameters: Any

    def writes(self) -> Iterator[Write]:
        return _writes_of(self.statement, self.action, self.parameters)


def track_writes(session: AsyncSession) -> None:
    """Notes the statements that write through `session` from now on (take_writes)."""
    session.info[_WRITES_KEY] = []


def take_writes(session: AsyncSession) -> list[Executed]:
    """The writing statements since track_writes, and stops noting them."""
    executed: list[Executed] = session.info.pop(_WRITES_KEY, [])
    return executed


@event.listens_for(Session, "do_orm_execute")
def _note_write(state: ORMExecuteState) -> None:
    executed = state.session.info.get(_WRITES_KEY)
    if executed is None or not (state.is_insert or state.is_update or state.is_delete):
        return
    action = "insert" if state.is_insert else "update" if state.is_update else "delete"
    executed.append(Executed(state.statement, action, state.parameters))


def _writes_of(statement: Any, action: str, parameters: Any) -> Iterator[Write]:
    table = statement.table
    key_columns = list(getattr(table, "primary_key", ()))
    if len(key_columns) != 1:
        return
    key_column: Column[Any] = key_columns[0]
    compiled = statement.compile().params
    rows: Sequence[Mapping[str, Any]] = (
        parameters if isinstance(parameters, list) else [parameters or {}]
    )
    for row in rows:
        values = {**compiled, **row}
        written = [name for name, value in values.items() if name in table.c]
        if action == "insert":
            key = values.get(key_column.key)
            written = [name for name in written if values[name] is not None]
        else:
            key = _key_in(statement.whereclause, key_column)
        if key is not None:
            fields = tuple(sorted(name for name in written if name not in _BOOKKEEPING))
            yield Write(
                table.name, str(key), _ACTIONS[action], () if action == "delete" else fields
            )


def _key_in(where: Any, key_column: Column[Any]) -> Any:
    """The key value a WHERE clause pins the primary key to, if it does."""
    if where is None:
        return None
    for element in visitors.iterate(where):
        if (
            isinstance(element, BinaryExpression)
            and element.operator is operators.eq
            and isinstance(element.right, BindParameter)
            and getattr(element.left, "key", None) == key_column.key
            and getattr(element.left, "table", None) is key_column.table
        ):
            return element.right.value
    return None


def audit_rows(
    events: Sequence[OutgoingEvent],
    executed: Sequence[Executed],
    call: Call,
    actor: Actor,
    now: datetime,
) -> list[dict[str, Any]]:
    """The `audit_entries` rows for one commit of an RPC."""
    if events:
        changes = [_from_event(event) for event in events]
    else:
        writes = [write for statement in executed for write in statement.writes()]
        changes = _from_writes(writes, call.request)
    return [
        {
            "occurred_at": now,
            "actor": actor.subject,
            "actor_kind": actor.kind,
            "method": call.method,
            "peer": call.peer,
            "resource": resource,
            "action": action,
            "changed_fields": list(fields),
        }
        for resource, action, fields in changes
    ]


Change = tuple[str, str, tuple[str, ...]]


def _from_event(outgoing: OutgoingEvent) -> Change:
    payload = outgoing.payload
    resource = _resource_in(payload)
    name = _name_of(resource) if resource is not None else _string_field(payload, "name")
    fields: tuple[str, ...] = ()
    changed = payload.DESCRIPTOR.fields_by_name.get("changed_fields")
    if changed is not None and changed.is_repeated:
        fields = tuple(payload.changed_fields)  # type: ignore[attr-defined]
    elif resource is not None and outgoing.type.endswith(".created"):
        fields = tuple(
            f.name for f, _ in resource.ListFields() if f.name not in {"name", *_BOOKKEEPING}
        )
    return (
        name or f"{outgoing.aggregate_type}/{outgoing.aggregate_id}",
        outgoing.type,
        fields,
    )


def _resource_in(payload: Message) -> Message | None:
    """The first message field of the payload that is a resource (has a name)."""
    for field, value in payload.ListFields():
        is_message = field.type == FieldDescriptor.TYPE_MESSAGE and not field.is_repeated
        if is_message and _string_field(value, "name"):
            return value  # type: ignore[no-any-return]
    return None


def _name_of(resource: Message) -> str:
    return _string_field(resource, "name")


def _string_field(message: Message, field: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name.get(field)
    if descriptor is None or descriptor.type != FieldDescriptor.TYPE_STRING:
        return ""
    if descriptor.is_repeated:
        return ""
    return str(getattr(message, field))


def _from_writes(writes: Iterable[Write], request: Message | None) -> list[Change]:
    """One change per (table, key), merging the columns of repeated writes.

    Repositories save whole rows, so an update of the resource the request
    names reports the request's update mask rather than every column.
    """
    named = _names_in(request) if request is not None else {}
    masked = _mask_paths(request) if request is not None else ()
    merged: dict[tuple[str, str], Change] = {}
    for write in writes:
        resource = named.get(write.key, f"{write.table}/{write.key}")
        if write.action == "updated" and masked and write.key in named:
            write = Write(write.table, write.key, write.action, masked)
        earlier = merged.get((write.table, write.key))
        if earlier is None:
            merged[(write.table, write.key)] = (resource, write.action, write.fields)
        else:
            # Created then updated in one commit is still a creation.
            action = earlier[1] if write.action == "updated" else write.action
            fields = tuple(sorted({*earlier[2], *write.fields}))
            merged[(write.table, write.key)] = (resource, action, fields)
    return list(merged.values())


def _names_in(request: Message) -> dict[str, str]:
    """Resource names the request mentions (`name`, `parent`, `<resource>.name`),
    by their last segment, the id a table row is keyed by."""
    names = [_string_field(request, "name"), _string_field(request, "parent")]
    for field, value in request.ListFields():
        if field.type == FieldDescriptor.TYPE_MESSAGE and not field.is_repeated:
            names.append(_string_field(value, "name"))
    return {name.rsplit("/", 1)[-1]: name for name in names if "/" in name}


def _mask_paths(request: Message) -> tuple[str, ...]:
    descriptor = request.DESCRIPTOR.fields_by_name.get("update_mask")
    if descriptor is None or descriptor.message_type is None:
        return ()
    paths = getattr(request.update_mask, "paths", ())  # type: ignore[attr-defined]
    return tuple(sorted(paths))
