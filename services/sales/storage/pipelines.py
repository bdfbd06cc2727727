"""The pipelines and stages tables and their repository.

A stage row keeps its id for life; its position, name, probability and
archived flag change, so that history rows pointing at it stay readable.
"""

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    bindparam,
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
from crm_common.storage.filter_sql import ColumnBinding, filter_clause
from crm_common.storage.keyset import paged
from crm_sales.domain.pipelines import Pipeline, Stage
from crm_sales.storage.tables import metadata

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("archived", Boolean, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_pipelines_display_name", "display_name", "id"),
)

stages = Table(
    "stages",
    metadata,
    Column(
        "pipeline_id",
        String(63),
        ForeignKey(pipelines.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("id", String(63), primary_key=True),
    # Board order within the pipeline, archived stages included.
    Column("position", Integer, nullable=False),
    Column("display_name", String(100), nullable=False),
    # Default win probability of an opportunity in the stage, in percent.
    Column("probability", Integer, nullable=False),
    Column("archived", Boolean, nullable=False),
)

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: pipelines.c[name] for name in ("display_name", "create_time", "update_time", "id")
}
FILTER_BINDINGS = {
    name: ColumnBinding(pipelines.c[name])
    for name in ("display_name", "archived", "create_time", "update_time")
}


# Built once: a statement made per call costs more to build and to key for
# SQLAlchemy's compiled cache than to run.
_BY_ID = select(pipelines).where(pipelines.c.id == bindparam("pipeline_id"))
_BY_ID_SHARED = _BY_ID.with_for_update(read=True)
_BY_ID_EXCLUSIVE = _BY_ID.with_for_update()
_STAGES_OF = (
    select(stages)
    .where(stages.c.pipeline_id.in_(bindparam("ids", expanding=True)))
    .order_by(stages.c.pipeline_id, stages.c.position)
)


class PipelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, pipeline_id: str, *, lock: bool = False, exclusive: bool = False
    ) -> Pipeline | None:
        """The pipeline. `lock` share-locks its row until commit, so that no
        stage changes under an opportunity being placed in it; `exclusive`
        locks it for a change of its stages, which waits for those."""
        query = _BY_ID_EXCLUSIVE if exclusive else _BY_ID_SHARED if lock else _BY_ID
        row = (await self._session.execute(query, {"pipeline_id": pipeline_id})).first()
        return (await self._with_stages([row]))[0] if row else None

    async def get_many(self, pipeline_ids: Collection[str]) -> dict[str, Pipeline]:
        """The pipelines that exist of `pipeline_ids`, by id: two statements for
        a page of deals, whatever number of pipelines they are in."""
        if not pipeline_ids:
            return {}
        query = select(pipelines).where(pipelines.c.id.in_(sorted(pipeline_ids)))
        rows = (await self._session.execute(query)).all()
        return {pipeline.id: pipeline for pipeline in await self._with_stages(rows)}

    async def add(self, pipeline: Pipeline) -> None:
        try:
            await self._session.execute(insert(pipelines).values(_pipeline_row(pipeline)))
        except IntegrityError as error:
            raise AlreadyExists(f"{pipeline.name} already exists") from error
        await self._write_stages(pipeline)

    async def save(self, pipeline: Pipeline, expected_version: int) -> None:
        result = await self._session.execute(
            update(pipelines)
            .where(pipelines.c.id == pipeline.id, pipelines.c.version == expected_version)
            .values(_pipeline_row(pipeline))
        )
        if result.rowcount != 1:
            raise Aborted(f"{pipeline.name} was changed concurrently; retry")
        # Stages are never dropped (the domain refuses it), so an upsert by
        # rewriting each row keeps the keys opportunities point at.
        existing = set(
            (
                await self._session.execute(
                    select(stages.c.id).where(stages.c.pipeline_id == pipeline.id)
                )
            ).scalars()
        )
        for position, stage in enumerate(pipeline.stages):
            row = _stage_row(pipeline.id, position, stage)
            if stage.id in existing:
                await self._session.execute(
                    update(stages)
                    .where(stages.c.pipeline_id == pipeline.id, stages.c.id == stage.id)
                    .values(row)
                )
            else:
                await self._session.execute(insert(stages).values(row))

    async def delete(self, pipeline_id: str) -> None:
        await self._session.execute(delete(pipelines).where(pipelines.c.id == pipeline_id))

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[Pipeline, list[Any]]]:
        query = select(pipelines).where(filter_clause(expr, FILTER_BINDINGS))
        rows = (await self._session.execute(paged(query, keys, SORT_COLUMNS, after, size))).all()
        found = await self._with_stages(rows)
        return [
            (pipeline, [getattr(row, key.field) for key in keys])
            for pipeline, row in zip(found, rows, strict=True)
        ]

    async def _with_stages(self, rows: Sequence[Row[Any]]) -> list[Pipeline]:
        ids = [row.id for row in rows]
        by_pipeline: dict[str, list[Stage]] = {pipeline_id: [] for pipeline_id in ids}
        for stage in (await self._session.execute(_STAGES_OF, {"ids": ids})).all():
            by_pipeline[stage.pipeline_id].append(
                Stage(stage.id, stage.display_name, stage.probability, stage.archived)
            )
        return [
            Pipeline(
                id=row.id,
                display_name=row.display_name,
                stages=tuple(by_pipeline[row.id]),
                create_time=row.create_time,
                update_time=row.update_time,
                archived=row.archived,
                version=row.version,
            )
            for row in rows
        ]

    async def _write_stages(self, pipeline: Pipeline) -> None:
        await self._session.execute(
            insert(stages),
            [
                _stage_row(pipeline.id, position, stage)
                for position, stage in enumerate(pipeline.stages)
            ],
        )


def _pipeline_row(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "id": pipeline.id,
        "display_name": pipeline.display_name,
        "archived": pipeline.archived,
        "create_time": pipeline.create_time,
        "update_time": pipeline.update_time,
        "version": pipeline.version,
    }


def _stage_row(pipeline_id: str, position: int, stage: Stage) -> dict[str, Any]:
    return {
        "pipeline_id": pipeline_id,
        "id": stage.id,
        "position": position,
        "display_name": stage.display_name,
        "probability": stage.probability,
        "archived": stage.archived,
    }
