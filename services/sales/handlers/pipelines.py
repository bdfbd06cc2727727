"""Use cases for pipelines and their stages, and for the managed close reasons."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import FailedPrecondition, NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_sales.domain.close_reasons import CloseReason, CloseReasonDetails, ReasonKind
from crm_sales.domain.pipelines import Pipeline, Stage
from crm_sales.storage.close_reasons import CloseReasonRepository
from crm_sales.storage.opportunities import OpportunityRepository
from crm_sales.storage.pipelines import PipelineRepository


async def create_pipeline(
    uow: UnitOfWork, display_name: str, stages: tuple[Stage, ...], pipeline_id: str = ""
) -> Pipeline:
    """Adds a pipeline; with a client-chosen id, a retry returns the pipeline it created."""
    pipeline = Pipeline.create(pipeline_id or uuid.uuid4().hex, display_name, stages, _now())
    async with uow:
        repository = PipelineRepository(uow.session)
        if pipeline_id and (existing := await repository.get(pipeline_id)) is not None:
            check_retried_create(
                existing.name,
                (existing.display_name, existing.stages),
                (pipeline.display_name, pipeline.stages),
            )
            return existing
        await repository.add(pipeline)
        await uow.commit()
    return pipeline


async def get_pipeline(uow: UnitOfWork, pipeline_id: str) -> Pipeline:
    async with uow:
        return await _existing(PipelineRepository(uow.session), pipeline_id)


async def list_pipelines(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Pipeline]:
    async with uow:
        return Page.of(await PipelineRepository(uow.session).page(expr, keys, after, size), size)


async def update_pipeline(
    uow: UnitOfWork,
    pipeline_id: str,
    display_name: str | None,
    stages: tuple[Stage, ...] | None,
    etag: str,
) -> Pipeline:
    """Renames and/or restages a pipeline. Archiving a stage that still holds
    open deals is refused; open deals following a stage's default probability
    take its new value."""
    async with uow:
        repository = PipelineRepository(uow.session)
        pipeline = await _existing(repository, pipeline_id, exclusive=True)
        check_etag(etag, pipeline.version, pipeline.name)
        before, read_version = pipeline.stages, pipeline.version
        changed = pipeline.update(display_name, stages, _now())
        if not changed:
            return pipeline
        deals = OpportunityRepository(uow.session)
        archived = pipeline.newly_archived_stages(before)
        if archived and (holding := await deals.open_in_stages(pipeline.id, archived)):
            raise FailedPrecondition(
                f"stages {', '.join(archived)} of {pipeline.name} still hold {holding} open "
                "opportunities; move them before archiving"
            )
        await repository.save(pipeline, read_version)
        if "stages" in changed:
            await deals.follow_stage_defaults(pipeline)
            if pipeline.moved_stages(before):
                await deals.follow_stage_order(pipeline)
        await uow.commit()
    return pipeline


async def delete_pipeline(uow: UnitOfWork, pipeline_id: str, etag: str) -> None:
    async with uow:
        repository = PipelineRepository(uow.session)
        pipeline = await _existing(repository, pipeline_id, exclusive=True)
        check_etag(etag, pipeline.version, pipeline.name)
        if used := await OpportunityRepository(uow.session).in_use(pipeline_id):
            raise FailedPrecondition(
                f"{pipeline.name} holds {used} opportunities; move or delete them first"
            )
        await repository.delete(pipeline_id)
        await uow.commit()


async def _existing(
    repository: PipelineRepository, pipeline_id: str, *, exclusive: bool = False
) -> Pipeline:
    pipeline = await repository.get(pipeline_id, exclusive=exclusive)
    if pipeline is None:
        raise NotFound(f"pipelines/{pipeline_id} does not exist")
    return pipeline


async def create_close_reason(
    uow: UnitOfWork, kind: ReasonKind | None, details: CloseReasonDetails, reason_id: str = ""
) -> CloseReason:
    """Adds a reason; with a client-chosen id, a retry returns the reason it created."""
    reason = CloseReason.create(reason_id or uuid.uuid4().hex, kind, details, _now())
    async with uow:
        repository = CloseReasonRepository(uow.session)
        if reason_id and (existing := await repository.get(reason_id)) is not None:
            check_retried_create(
                existing.name, (existing.kind, existing.details), (reason.kind, reason.details)
            )
            return existing
        await repository.add(reason)
        await uow.commit()
    return reason


async def get_close_reason(uow: UnitOfWork, reason_id: str) -> CloseReason:
    async with uow:
        return await _existing_reason(CloseReasonRepository(uow.session), reason_id)


async def list_close_reasons(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[CloseReason]:
    async with uow:
        found = await CloseReasonRepository(uow.session).page(expr, keys, after, size)
    return Page.of(found, size)


async def update_close_reason(
    uow: UnitOfWork, reason_id: str, changes: dict[str, Any], etag: str
) -> CloseReason:
    async with uow:
        repository = CloseReasonRepository(uow.session)
        reason = await _existing_reason(repository, reason_id)
        check_etag(etag, reason.version, reason.name)
        read_version = reason.version
        if reason.update(changes, _now()):
            await repository.save(reason, read_version)
            await uow.commit()
    return reason


async def _existing_reason(repository: CloseReasonRepository, reason_id: str) -> CloseReason:
    reason = await repository.get(reason_id)
    if reason is None:
        raise NotFound(f"closeReasons/{reason_id} does not exist")
    return reason


def _now() -> datetime:
    return datetime.now(UTC)
