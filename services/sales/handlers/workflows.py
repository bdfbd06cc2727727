"""Use cases for workflow rules, and running them on the events that trigger them.

`run_rules` runs inside an event consumer's unit of work. Each rule's run is
one savepoint: its actions' changes, the events announcing them and the
causes of those events all stay, or (when an action fails) none of them do;
either way the run's row records the outcome, in the consumer's transaction,
so a redelivered event finds the row and runs nothing twice.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.errors import DomainError, FailedPrecondition, NotFound
from crm_common.etags import check_etag
from crm_common.filtering import And, Comparison, Expr, Op
from crm_common.listing import Page
from crm_common.messaging.envelope import OutgoingEvent
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_sales.domain.opportunities import Deal, Opportunity, State
from crm_sales.domain.pipelines import require_open_stage
from crm_sales.domain.workflows import (
    TARGETS_MAX,
    TITLE_MAX,
    Action,
    AddTag,
    Cause,
    ChangeOwner,
    CreateTask,
    MoveStage,
    Notify,
    Outcome,
    Subject,
    SubjectKind,
    Target,
    TriggeringEvent,
    WorkflowRule,
    WorkflowRuleRecord,
    blocked_by,
    checked_rule,
    gate,
    placeholders,
    render,
)
from crm_sales.events import published
from crm_sales.events.workflow_published import action_key, notification, task_requested
from crm_sales.events.workflow_subjects import condition_problem
from crm_sales.storage.opportunities import OpportunityRepository
from crm_sales.storage.pipelines import PipelineRepository
from crm_sales.storage.workflows import (
    WorkflowCauses,
    WorkflowRuleRepository,
    WorkflowRun,
    WorkflowRunRepository,
)

OPPORTUNITY = "opportunity"
OPPORTUNITIES = "opportunities/"


async def create_rule(uow: UnitOfWork, rule: WorkflowRule) -> WorkflowRuleRecord:
    """Adds a rule (`rule.id` empty: a generated id); a retry with the same
    id and content returns the rule it created."""
    chosen = bool(rule.id)
    rule = checked_rule(rule, condition_problem)
    if not chosen:
        rule = replace(rule, id=uuid.uuid4().hex)
    now = datetime.now(UTC)
    record = WorkflowRuleRecord(rule, now, now)
    async with uow:
        repository = WorkflowRuleRepository(uow.session)
        if chosen and (existing := await repository.get(rule.id)) is not None:
            check_retried_create(existing.name, existing.rule, record.rule)
            return existing
        await repository.add(record)
        await uow.commit()
    return record


async def get_rule(uow: UnitOfWork, rule_id: str) -> WorkflowRuleRecord:
    async with uow:
        return await _existing(WorkflowRuleRepository(uow.session), rule_id)


async def list_rules(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[WorkflowRuleRecord]:
    async with uow:
        found = await WorkflowRuleRepository(uow.session).page(expr, keys, after, size)
    return Page.of(found, size)


async def update_rule(
    uow: UnitOfWork, rule_id: str, changes: dict[str, Any], etag: str
) -> WorkflowRuleRecord:
    async with uow:
        repository = WorkflowRuleRepository(uow.session)
        record = await _existing(repository, rule_id, lock=True)
        check_etag(etag, record.version, record.name)
        read_version = record.version
        if record.update(changes, condition_problem, datetime.now(UTC)):
            await repository.save(record, read_version)
            await uow.commit()
    return record


async def delete_rule(uow: UnitOfWork, rule_id: str, etag: str) -> None:
    async with uow:
        repository = WorkflowRuleRepository(uow.session)
        record = await _existing(repository, rule_id, lock=True)
        check_etag(etag, record.version, record.name)
        await repository.delete(rule_id)
        await uow.commit()


async def list_runs(
    uow: UnitOfWork,
    rule_id: str | None,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[WorkflowRun]:
    """A rule's runs (NOT_FOUND for a missing rule), or every rule's (`rule_id` None)."""
    async with uow:
        if rule_id is not None:
            await _existing(WorkflowRuleRepository(uow.session), rule_id)
        found = await WorkflowRunRepository(uow.session).page(rule_id, expr, keys, after, size)
    return Page.of(found, size)


async def _existing(
    repository: WorkflowRuleRepository, rule_id: str, *, lock: bool = False
) -> WorkflowRuleRecord:
    record = await repository.get(rule_id, lock=lock)
    if record is None:
        raise NotFound(f"workflowRules/{rule_id} does not exist")
    return record


# --- Running rules -------------------------------------------------------------


async def run_rules(uow: UnitOfWork, event: TriggeringEvent) -> None:
    """Runs every enabled rule `event` triggers, in the caller's unit of work."""
    cause = await WorkflowCauses(uow.session).get(
        event.aggregate_type, event.aggregate_id, event.aggregate_version
    )
    depth = 0 if cause is None else cause.depth
    runs = WorkflowRunRepository(uow.session)
    for rule in await WorkflowRuleRepository(uow.session).enabled_for(event.type):
        if blocked_by(rule, cause) or await runs.exists(rule.id, event.id):
            continue
        outcome, detail, targets = await _run(uow, rule, event, depth)
        await runs.add(
            WorkflowRun(
                rule_id=rule.id,
                event_id=event.id,
                event_type=event.type,
                subject=event.subject.name,
                outcome=outcome,
                depth=depth,
                create_time=datetime.now(UTC),
                detail=detail,
                targets=targets,
            )
        )


async def _run(
    uow: UnitOfWork, rule: WorkflowRule, event: TriggeringEvent, depth: int
) -> tuple[Outcome, str, tuple[str, ...]]:
    if (stopped := gate(event.satisfies(rule.condition), depth)) is not None:
        return (*stopped, ())
    targets = await _targets(uow, rule, event.subject)
    if not targets:
        return Outcome.SKIPPED_NO_TARGET, _no_target(rule, event.subject), ()
    run = _RuleRun(uow, rule, event, Cause(rule.id, depth + 1))
    try:
        async with uow.session.begin_nested():
            for target in targets:
                await run.act_on(target)
    except DomainError as error:
        return Outcome.FAILED, str(error), targets
    for outgoing in run.events:
        uow.publish(outgoing)
    return Outcome.APPLIED, "", targets


async def _targets(uow: UnitOfWork, rule: WorkflowRule, subject: Subject) -> tuple[str, ...]:
    if rule.target is Target.SUBJECT:
        return (subject.name,)
    if not subject.organization:
        return ()
    open_deals: Expr = And(
        (
            Comparison("organization", Op.EQ, subject.organization),
            Comparison("state", Op.EQ, int(State.OPEN)),
        )
    )
    keys = (SortKey("create_time"), SortKey("id"))
    found = await OpportunityRepository(uow.session).page(open_deals, keys, None, TARGETS_MAX)
    return tuple(opportunity.name for opportunity, _ in found[:TARGETS_MAX])


def _no_target(rule: WorkflowRule, subject: Subject) -> str:
    if not subject.organization:
        return f"{subject.name} has no organization"
    return f"{subject.organization} has no open opportunity"


@dataclass
class _RuleRun:
    """One rule's actions on its targets; the events wait until the run succeeds."""

    uow: UnitOfWork
    rule: WorkflowRule
    event: TriggeringEvent
    # What the events this run causes carry into the runs they trigger.
    cause: Cause
    events: list[OutgoingEvent] = field(default_factory=list)

    async def act_on(self, target: str) -> None:
        if target.startswith(OPPORTUNITIES):
            await self._act_on_opportunity(target)
        else:
            # A lead rule's target: its lead, which only tasks and notifications concern.
            subject = self.event.subject
            values = self._values(subject.name, subject.display_name, subject.owner)
            for index, action in enumerate(self.rule.actions):
                self._announce(index, action, target, subject.owner, values)

    async def _act_on_opportunity(self, target: str) -> None:
        repository = OpportunityRepository(self.uow.session)
        opportunity = await repository.get(target.removeprefix(OPPORTUNITIES), lock=True)
        if opportunity is None:
            raise FailedPrecondition(f"{target} no longer exists")
        for index, action in enumerate(self.rule.actions):
            if isinstance(action, ChangeOwner | AddTag | MoveStage):
                await self._change(repository, opportunity, action)
            else:
                details = opportunity.details
                values = self._values(target, details.display_name, details.owner)
                self._announce(index, action, target, details.owner, values)

    async def _change(
        self,
        repository: OpportunityRepository,
        opportunity: Opportunity,
        action: ChangeOwner | AddTag | MoveStage,
    ) -> None:
        now = datetime.now(UTC)
        read_version = opportunity.version
        before = (opportunity.pipeline_id, opportunity.stage_id)
        pipelines = PipelineRepository(self.uow.session)
        if isinstance(action, MoveStage):
            pipeline = await pipelines.get(action.pipeline_id, lock=True)
            if pipeline is None:
                raise FailedPrecondition(f"pipelines/{action.pipeline_id} does not exist")
            require_open_stage(pipeline, action.stage_id, "stage")
            if not opportunity.move_to(pipeline, action.stage_id, now):
                return
            announce = published.stage_changed(Deal(opportunity, pipeline), *before)
        else:
            change: dict[str, Any] = (
                {"owner": action.owner}
                if isinstance(action, ChangeOwner)
                else {"tags": (*opportunity.details.tags, action.tag)}
            )
            changed = opportunity.update(change, now)
            if not changed:
                return
            pipeline = await pipelines.get(opportunity.pipeline_id, lock=True)
            if pipeline is None:
                raise RuntimeError(f"{opportunity.name} is in a missing pipeline")
            announce = published.opportunity_updated(Deal(opportunity, pipeline), changed)
        await repository.save(opportunity, pipeline, read_version)
        await WorkflowCauses(self.uow.session).add(
            OPPORTUNITY, opportunity.id, opportunity.version, self.cause
        )
        self.events.append(announce)

    def _values(self, name: str, display_name: str, owner: str) -> dict[str, str]:
        return placeholders(self.event.type, self.event.subject, name, display_name, owner)

    def _announce(
        self, index: int, action: Action, target: str, owner: str, values: dict[str, str]
    ) -> None:
        key = action_key(self.rule, self.event.id, index, target)
        subject = self.event.subject.name
        if isinstance(action, CreateTask):
            assignee = action.assignee or owner
            due = (self.event.occurred_at + timedelta(days=action.due_in_days)).date()
            title = render(action.title, values)[:TITLE_MAX]
            self.events.append(
                task_requested(self.rule, key, self.event.id, subject, target, title, assignee, due)
            )
        elif isinstance(action, Notify):
            recipient = action.recipient or owner
            if not recipient:
                raise FailedPrecondition(f"{target} has no owner to notify")
            message = render(action.message, values)
            self.events.append(
                notification(self.rule, key, self.event.id, subject, target, recipient, message)
            )
        elif self.event.subject.kind is SubjectKind.LEAD:
            raise FailedPrecondition(f"a lead rule cannot {type(action).__name__} on {target}")
