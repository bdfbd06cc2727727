"""Use cases for opportunities: create, read, edit, move through stages, win, lose, reopen.

Each loads the deal's pipeline too (share-locked on PostgreSQL, so that a
concurrent pipeline update waits), since probability and forecast category
depend on its stages.
"""

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.auth.principal import Principal
from crm_common.errors import FailedPrecondition, NotFound, Violations
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_common.validation import check_id
from crm_sales.domain.close_reasons import CloseReason
from crm_sales.domain.opportunities import (
    Deal,
    Opportunity,
    OpportunityDetails,
    OpportunityDraft,
    State,
    normalise,
)
from crm_sales.domain.pipelines import Pipeline, require_open_stage
from crm_sales.events import published
from crm_sales.handlers.ownership import check_may_change, check_owner_change, owned_draft
from crm_sales.storage.close_reasons import CloseReasonRepository
from crm_sales.storage.contacts import KnownContacts
from crm_sales.storage.opportunities import OpportunityRepository
from crm_sales.storage.pipelines import PipelineRepository

PIPELINES = "pipelines/"


async def create_opportunity(
    uow: UnitOfWork, caller: Principal, draft: OpportunityDraft, opportunity_id: str = ""
) -> Deal:
    """Adds an open opportunity and announces `opportunity.created`, in a
    transaction of its own (see `add_opportunity`)."""
    async with uow:
        deal = await add_opportunity(uow, owned_draft(caller, draft), opportunity_id)
        await uow.commit()
    return deal


async def add_opportunity(
    uow: UnitOfWork, draft: OpportunityDraft, opportunity_id: str = ""
) -> Deal:
    """Adds an open opportunity and queues `opportunity.created` in the caller's
    open unit of work, which commits (lead conversion adds one with the lead's
    own change).

    With a client-chosen id a retry returns the opportunity the first attempt
    made (lead conversion relies on this), other content under it is
    ALREADY_EXISTS. The pipeline must exist (FAILED_PRECONDITION), the stage
    be one of its unarchived ones (empty: its first), and every linked
    contact be known (FAILED_PRECONDITION).
    """
    now = datetime.now(UTC)
    _check_draft(draft.details, opportunity_id)
    repository = OpportunityRepository(uow.session)
    pipeline = await _pipeline(uow, draft.pipeline, "opportunity.pipeline")
    stage_id = draft.stage_id or _first_open_stage(pipeline)
    require_open_stage(pipeline, stage_id, "opportunity.stage")
    opportunity = Opportunity.create(
        opportunity_id or uuid.uuid4().hex, draft.details, pipeline, stage_id, now
    )
    if opportunity_id and (existing := await repository.get(opportunity_id)) is not None:
        check_retried_create(
            existing.name,
            (existing.details, existing.stage_history[0].pipeline_id),
            (opportunity.details, pipeline.id),
        )
        return Deal(existing, await _current_pipeline(uow, existing))
    await _check_contacts(uow, opportunity.details)
    await repository.add(opportunity, pipeline)
    deal = Deal(opportunity, pipeline)
    uow.publish(published.opportunity_created(deal))
    return deal


def _check_draft(details: OpportunityDetails, opportunity_id: str) -> None:
    """Bad input is INVALID_ARGUMENT before anything is looked up."""
    violations = Violations()
    if opportunity_id:
        check_id(violations, "opportunity_id", opportunity_id)
    normalise(details, violations)
    violations.raise_if_any()


async def get_opportunity(uow: UnitOfWork, opportunity_id: str) -> Deal:
    async with uow:
        opportunity = await _existing(OpportunityRepository(uow.session), opportunity_id)
        return Deal(opportunity, await _current_pipeline(uow, opportunity))


async def list_opportunities(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Deal]:
    async with uow:
        found = await OpportunityRepository(uow.session).page(expr, keys, after, size)
        pipelines = await PipelineRepository(uow.session).get_many(
            {opportunity.pipeline_id for opportunity, _ in found}
        )
    return Page.of(
        [
            (Deal(opportunity, pipelines[opportunity.pipeline_id]), key)
            for opportunity, key in found
        ],
        size,
    )


async def update_opportunity(
    uow: UnitOfWork, caller: Principal, opportunity_id: str, changes: dict[str, Any], etag: str
) -> Deal:
    """Edits an open deal; `opportunity.updated` lists the fields that changed."""
    check_owner_change(caller, changes)
    async with uow:
        repository = OpportunityRepository(uow.session)
        opportunity = await _existing(repository, opportunity_id, lock=True)
        check_may_change(caller, opportunity)
        check_etag(etag, opportunity.version, opportunity.name)
        read_version = opportunity.version
        changed = opportunity.update(changes, datetime.now(UTC))
        pipeline = await _current_pipeline(uow, opportunity, lock=True)
        deal = Deal(opportunity, pipeline)
        if not changed:
            return deal
        if {"people", "organization"} & set(changed):
            await _check_contacts(uow, opportunity.details)
        await repository.save(opportunity, pipeline, read_version)
        uow.publish(published.opportunity_updated(deal, changed))
        await uow.commit()
    return deal


async def delete_opportunity(
    uow: UnitOfWork, caller: Principal, opportunity_id: str, etag: str
) -> None:
    async with uow:
        repository = OpportunityRepository(uow.session)
        opportunity = await _existing(repository, opportunity_id, lock=True)
        check_may_change(caller, opportunity)
        check_etag(etag, opportunity.version, opportunity.name)
        await repository.delete(opportunity_id)
        await uow.commit()


async def move_opportunity(
    uow: UnitOfWork,
    caller: Principal,
    opportunity_id: str,
    pipeline_id: str,
    stage_id: str,
    etag: str,
) -> Deal:
    """Enters an unarchived stage of any pipeline; `opportunity.stage_changed`
    when it was elsewhere."""
    async with uow:
        repository = OpportunityRepository(uow.session)
        opportunity = await _existing(repository, opportunity_id, lock=True)
        check_may_change(caller, opportunity)
        check_etag(etag, opportunity.version, opportunity.name)
        pipeline = await _pipeline(uow, f"{PIPELINES}{pipeline_id}", "stage")
        require_open_stage(pipeline, stage_id, "stage")
        read_version = opportunity.version
        before = (opportunity.pipeline_id, opportunity.stage_id)
        deal = Deal(opportunity, pipeline)
        if not opportunity.move_to(pipeline, stage_id, datetime.now(UTC)):
            return deal
        await repository.save(opportunity, pipeline, read_version)
        uow.publish(published.stage_changed(deal, *before))
        await uow.commit()
    return deal


async def close_opportunity(
    uow: UnitOfWork, caller: Principal, opportunity_id: str, state: State, reason_id: str, etag: str
) -> Deal:
    """Wins or loses an open deal with a current reason of the matching kind;
    announces `opportunity.won` or `opportunity.lost`."""
    async with uow:
        repository = OpportunityRepository(uow.session)
        opportunity = await _existing(repository, opportunity_id, lock=True)
        check_may_change(caller, opportunity)
        check_etag(etag, opportunity.version, opportunity.name)
        reason = await _reason(uow, reason_id)
        reason.check_closes(state, "close_reason")
        read_version = opportunity.version
        opportunity.close(state, reason.id, datetime.now(UTC))
        deal = Deal(opportunity, await _current_pipeline(uow, opportunity, lock=True))
        await repository.save(opportunity, deal.pipeline, read_version)
        uow.publish(published.opportunity_closed(deal))
        await uow.commit()
    return deal


async def reopen_opportunity(
    uow: UnitOfWork, caller: Principal, opportunity_id: str, etag: str
) -> Deal:
    """Opens a won or lost deal again in the stage it was closed in;
    FAILED_PRECONDITION when that stage was archived meanwhile (an open deal
    never sits in an archived stage)."""
    async with uow:
        repository = OpportunityRepository(uow.session)
        opportunity = await _existing(repository, opportunity_id, lock=True)
        check_may_change(caller, opportunity)
        check_etag(etag, opportunity.version, opportunity.name)
        previous_state = opportunity.state
        read_version = opportunity.version
        opportunity.reopen(datetime.now(UTC))
        pipeline = await _current_pipeline(uow, opportunity, lock=True)
        require_open_stage(pipeline, opportunity.stage_id, "name")
        deal = Deal(opportunity, pipeline)
        await repository.save(opportunity, pipeline, read_version)
        uow.publish(published.opportunity_reopened(deal, previous_state))
        await uow.commit()
    return deal


async def _existing(
    repository: OpportunityRepository, opportunity_id: str, *, lock: bool = False
) -> Opportunity:
    opportunity = await repository.get(opportunity_id, lock=lock)
    if opportunity is None:
        raise NotFound(f"opportunities/{opportunity_id} does not exist")
    return opportunity


async def _pipeline(uow: UnitOfWork, name: str, field: str) -> Pipeline:
    pipeline_id = name.removeprefix(PIPELINES)
    pipeline = await PipelineRepository(uow.session).get(pipeline_id, lock=True)
    if pipeline is None:
        raise FailedPrecondition(f"{field}: {name} does not exist; create the pipeline first")
    return pipeline


async def _current_pipeline(
    uow: UnitOfWork, opportunity: Opportunity, *, lock: bool = False
) -> Pipeline:
    """The pipeline a stored deal is in; it cannot be deleted while the deal exists."""
    pipeline = await PipelineRepository(uow.session).get(opportunity.pipeline_id, lock=lock)
    if pipeline is None:
        raise RuntimeError(f"{opportunity.name} is in missing pipeline {opportunity.pipeline_id}")
    return pipeline


def _first_open_stage(pipeline: Pipeline) -> str:
    open_stages = pipeline.open_stages
    if not open_stages:
        raise FailedPrecondition(f"{pipeline.name} has no unarchived stage")
    return open_stages[0].id


async def _reason(uow: UnitOfWork, reason_id: str) -> CloseReason:
    reason = await CloseReasonRepository(uow.session).get(reason_id)
    if reason is None:
        raise FailedPrecondition(f"close_reason: closeReasons/{reason_id} does not exist")
    return reason


async def _check_contacts(uow: UnitOfWork, details: OpportunityDetails) -> None:
    """Every linked person and the organization must be known to the read model."""
    linked = {
        **{person: f"opportunity.people[{i}]" for i, person in enumerate(details.people)},
        **({details.organization: "opportunity.organization"} if details.organization else {}),
    }
    unknown = await KnownContacts(uow.session).unknown(set(linked))
    if unknown:
        where = ", ".join(f"{linked[name]} ({name})" for name in sorted(unknown))
        raise FailedPrecondition(
            f"{where}: no such contact is known to sales; create it in the contacts "
            "service first (it takes a moment to arrive)"
        )


async def relink_contacts(
    uow: UnitOfWork, contacts: set[str], relink: Callable[[Opportunity, datetime], bool]
) -> None:
    """Applies `relink` to every deal linked to any of `contacts`, inside the
    caller's unit of work (an event consumer's), announcing each change."""
    repository = OpportunityRepository(uow.session)
    now = datetime.now(UTC)
    for opportunity_id in await repository.ids_linked_to(contacts):
        opportunity = await _existing(repository, opportunity_id, lock=True)
        before = opportunity.details
        read_version = opportunity.version
        if not relink(opportunity, now):
            continue
        deal = Deal(opportunity, await _current_pipeline(uow, opportunity))
        await repository.save(opportunity, deal.pipeline, read_version)
        changed = [
            name
            for name in ("people", "organization")
            if getattr(before, name) != getattr(opportunity.details, name)
        ]
        uow.publish(published.opportunity_updated(deal, changed))
