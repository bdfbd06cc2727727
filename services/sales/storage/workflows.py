"""Workflow rules, their runs, and which changes rules caused.

`workflow_runs` has one row per (rule, triggering event): its primary key is
what makes a redelivered event run nothing twice, as the row commits with
the run's effects and events. `workflow_causes` remembers, for each change a
rule's action made to an aggregate (by the version the change gave it, which
the announcing event carries), which rule made it and at what depth, so the
runs that event triggers know how deep the chain already is.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import Expr
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, FieldBinding, filter_clause
from crm_common.storage.keyset import paged
from crm_sales.domain.workflows import (
    Action,
    AddTag,
    Cause,
    ChangeOwner,
    CreateTask,
    MoveStage,
    Notify,
    Outcome,
    Target,
    WorkflowRule,
    WorkflowRuleRecord,
)
from crm_sales.storage.tables import metadata

ID_MAX = 63
EVENT_ID_MAX = 64

workflow_rules = Table(
    "workflow_rules",
    metadata,
    Column("id", String(ID_MAX), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("trigger", String(64), nullable=False),
    Column("condition", String(2000), nullable=False),
    Column("target", Integer, nullable=False),
    # The ordered actions, each {"kind": ..., its fields}.
    Column("actions", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # Every consumed event looks up the enabled rules of its type.
    Index("ix_workflow_rules_trigger", "trigger", "enabled"),
)

workflow_runs = Table(
    "workflow_runs",
    metadata,
    # `{rule_id}/{event_id}`: one run per rule and triggering event.
    Column("id", String(128), primary_key=True),
    Column(
        "rule_id",
        String(ID_MAX),
        ForeignKey(workflow_rules.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", String(EVENT_ID_MAX), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("outcome", Integer, nullable=False),
    Column("detail", String(2000), nullable=False),
    Column("depth", Integer, nullable=False),
    Column("targets", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    # Newest first, across rules and per rule.
    Index("ix_workflow_runs_time", "create_time", "id"),
    Index("ix_workflow_runs_rule_time", "rule_id", "create_time", "id"),
    Index("ix_workflow_runs_event", "event_id"),
)

workflow_causes = Table(
    "workflow_causes",
    metadata,
    Column("aggregate_type", String(32), primary_key=True),
    Column("aggregate_id", String(ID_MAX), primary_key=True),
    Column("aggregate_version", Integer, primary_key=True),
    # No foreign key: the chain's depth still counts after its rule is deleted.
    Column("rule_id", String(ID_MAX), nullable=False),
    Column("depth", Integer, nullable=False),
)

RULE_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: workflow_rules.c[name] for name in ("display_name", "create_time", "update_time", "id")
}
RULE_FILTER_BINDINGS: dict[str, FieldBinding] = {
    name: ColumnBinding(workflow_rules.c[name])
    for name in ("display_name", "trigger", "enabled", "create_time", "update_time")
}
RUN_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "create_time": workflow_runs.c.create_time,
    "id": workflow_runs.c.id,
}
RUN_FILTER_BINDINGS: dict[str, FieldBinding] = {
    name: ColumnBinding(workflow_runs.c[name])
    for name in ("outcome", "event_id", "event_type", "subject", "depth", "create_time")
}


class WorkflowRuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, rule_id: str, *, lock: bool = False) -> WorkflowRuleRecord | None:
        query = select(workflow_rules).where(workflow_rules.c.id == rule_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return _to_record(row) if row else None

    async def enabled_for(self, trigger: str) -> list[WorkflowRule]:
        """The enabled rules an event of type `trigger` runs, oldest first."""
        query = (
            select(workflow_rules)
            .where(workflow_rules.c.trigger == trigger, workflow_rules.c.enabled.is_(True))
            .order_by(workflow_rules.c.create_time, workflow_rules.c.id)
        )
        return [_to_record(row).rule for row in (await self._session.execute(query)).all()]

    async def add(self, record: WorkflowRuleRecord) -> None:
        try:
            async with self._session.begin_nested():
                await self._session.execute(insert(workflow_rules).values(_rule_row(record)))
        except IntegrityError as error:
            raise AlreadyExists(f"{record.name} already exists") from error

    async def save(self, record: WorkflowRuleRecord, expected_version: int) -> None:
        result = await self._session.execute(
            update(workflow_rules)
            .where(
                workflow_rules.c.id == record.rule.id,
                workflow_rules.c.version == expected_version,
            )
            .values(_rule_row(record))
        )
        if result.rowcount != 1:
            raise Aborted(f"{record.name} was changed concurrently; retry")

    async def delete(self, rule_id: str) -> None:
        # SQLite enforces the cascade only with foreign keys on; be explicit.
        await self._session.execute(delete(workflow_runs).where(workflow_runs.c.rule_id == rule_id))
        await self._session.execute(delete(workflow_rules).where(workflow_rules.c.id == rule_id))

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[WorkflowRuleRecord, list[Any]]]:
        query = select(workflow_rules).where(filter_clause(expr, RULE_FILTER_BINDINGS))
        rows = (
            await self._session.execute(paged(query, keys, RULE_SORT_COLUMNS, after, size))
        ).all()
        return [(_to_record(row), [getattr(row, key.field) for key in keys]) for row in rows]


@dataclass(frozen=True)
class WorkflowRun:
    rule_id: str
    event_id: str
    event_type: str
    subject: str
    outcome: Outcome
    depth: int
    create_time: datetime
    detail: str = ""
    targets: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"workflowRules/{self.rule_id}/runs/{self.event_id}"


class WorkflowRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def exists(self, rule_id: str, event_id: str) -> bool:
        query = select(workflow_runs.c.id).where(workflow_runs.c.id == _run_id(rule_id, event_id))
        return (await self._session.execute(query)).first() is not None

    async def add(self, run: WorkflowRun) -> None:
        await self._session.execute(
            insert(workflow_runs).values(
                id=_run_id(run.rule_id, run.event_id),
                rule_id=run.rule_id,
                event_id=run.event_id,
                event_type=run.event_type,
                subject=run.subject,
                outcome=int(run.outcome),
                detail=run.detail[:2000],
                depth=run.depth,
                targets=list(run.targets),
                create_time=run.create_time,
            )
        )

    async def page(
        self,
        rule_id: str | None,
        expr: Expr | None,
        keys: Sequence[SortKey],
        after: Sequence[Any] | None,
        size: int,
    ) -> list[tuple[WorkflowRun, list[Any]]]:
        query = select(workflow_runs).where(filter_clause(expr, RUN_FILTER_BINDINGS))
        if rule_id is not None:
            query = query.where(workflow_runs.c.rule_id == rule_id)
        rows = (
            await self._session.execute(paged(query, keys, RUN_SORT_COLUMNS, after, size))
        ).all()
        return [(_to_run(row), [getattr(row, key.field) for key in keys]) for row in rows]


class WorkflowCauses:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, aggregate_type: str, aggregate_id: str, version: int) -> Cause | None:
        query = select(workflow_causes.c.rule_id, workflow_causes.c.depth).where(
            workflow_causes.c.aggregate_type == aggregate_type,
            workflow_causes.c.aggregate_id == aggregate_id,
            workflow_causes.c.aggregate_version == version,
        )
        row = (await self._session.execute(query)).first()
        return Cause(row.rule_id, row.depth) if row else None

    async def add(self, aggregate_type: str, aggregate_id: str, version: int, cause: Cause) -> None:
        await self._session.execute(
            insert(workflow_causes).values(
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                aggregate_version=version,
                rule_id=cause.rule_id,
                depth=cause.depth,
            )
        )


def _run_id(rule_id: str, event_id: str) -> str:
    return f"{rule_id}/{event_id}"


def _rule_row(record: WorkflowRuleRecord) -> dict[str, Any]:
    rule = record.rule
    if rule.target is None:
        raise ValueError(f"{rule.name} has no target")
    return {
        "id": rule.id,
        "display_name": rule.display_name,
        "enabled": rule.enabled,
        "trigger": rule.trigger,
        "condition": rule.condition,
        "target": int(rule.target),
        "actions": [_action_json(action) for action in rule.actions],
        "create_time": record.create_time,
        "update_time": record.update_time,
        "version": record.version,
    }


_ACTION_KINDS: dict[str, type[Action]] = {
    "create_task": CreateTask,
    "change_owner": ChangeOwner,
    "add_tag": AddTag,
    "move_stage": MoveStage,
    "notify": Notify,
}
_KIND_OF = {action_type: kind for kind, action_type in _ACTION_KINDS.items()}


def _action_json(action: Action) -> dict[str, Any]:
    return {"kind": _KIND_OF[type(action)], **vars(action)}


def _action(stored: dict[str, Any]) -> Action:
    fields = dict(stored)
    return _ACTION_KINDS[fields.pop("kind")](**fields)


def _to_record(row: Row[Any]) -> WorkflowRuleRecord:
    rule = WorkflowRule(
        id=row.id,
        display_name=row.display_name,
        trigger=row.trigger,
        target=Target(row.target),
        actions=tuple(_action(action) for action in row.actions),
        condition=row.condition,
        enabled=row.enabled,
    )
    return WorkflowRuleRecord(rule, row.create_time, row.update_time, row.version)


def _to_run(row: Row[Any]) -> WorkflowRun:
    return WorkflowRun(
        rule_id=row.rule_id,
        event_id=row.event_id,
        event_type=row.event_type,
        subject=row.subject,
        outcome=Outcome(row.outcome),
        depth=row.depth,
        create_time=row.create_time,
        detail=row.detail,
        targets=tuple(row.targets),
    )
