"""The opportunities table, its stage history, people and tags, and the repository.

Amounts are stored as google.type.Money's exact parts (`amount_units`,
`amount_nanos`, same sign), integers on every backend, so SQL sums stay
exact: `SUM(amount_units) + SUM(amount_nanos) / 1e9`, weighted by multiplying
each part by `effective_probability` first. (A NUMERIC column would be
rounded through float by SQLite.)

`effective_probability` and `forecast_category` are the values in force
(the override, else the stage's default), kept current on every write and
when a stage's default changes, so forecasts read them without joins.

Every write also keeps the funnel's roll-up (crm_sales.storage.funnel) and the
forecast's (crm_sales.storage.forecast_rollup) current, in its transaction.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Row,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    extract,
    func,
    insert,
    not_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists, InvalidArgument
from crm_common.filtering import Comparison, Expr, Has, Op
from crm_common.pagination import SortKey
from crm_common.storage.child_rows import ChildRows, repeated_values_table
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import (
    ChildTableBinding,
    ColumnBinding,
    FieldBinding,
    JsonObjectBinding,
    filter_clause,
)
from crm_common.storage.filter_values import NormalisedValue
from crm_common.storage.keyset import paged
from crm_common.validation import TAG_MAX
from crm_sales.domain.money import NANOS, Money, to_units_nanos
from crm_sales.domain.opportunities import (
    ForecastCategory,
    Opportunity,
    OpportunityDetails,
    StageVisit,
    State,
    default_category,
)
from crm_sales.domain.pipelines import Pipeline
from crm_sales.storage.forecast_rollup import (
    KEY_COLUMNS,
    SUM_COLUMNS,
    Cell,
    ForecastRollup,
    forecast_cell,
    forecast_rollup,
)
from crm_sales.storage.funnel import FunnelRollup, opportunity_reach, reach_rows
from crm_sales.storage.pipelines import pipelines, stages
from crm_sales.storage.tables import metadata

PIPELINES = "pipelines/"
STAGES = "/stages/"
CONTACT_NAME_MAX = 200

# What the forecast reads of each deal besides the indexed keys.
FORECAST_COLUMNS = [
    "owner",
    "pipeline_id",
    "currency_code",
    "forecast_category",
    "amount_units",
    "amount_nanos",
    "effective_probability",
]

# What `forecast_cell` reads of a stored deal.
FORECAST_CELL_SOURCE = (
    "state",
    "expected_close_date",
    "close_time",
    "owner",
    "pipeline_id",
    "currency_code",
    "forecast_category",
    "amount_units",
    "amount_nanos",
    "effective_probability",
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("amount_nanos", Integer, nullable=False),
    Column("currency_code", String(3), nullable=False),
    Column("pipeline_id", String(63), ForeignKey(pipelines.c.id), nullable=False),
    Column("stage_id", String(63), nullable=False),
    # The owner's override in percent; NULL follows the stage's default.
    Column("probability", Integer, nullable=True),
    Column("effective_probability", Integer, nullable=False),
    Column("expected_close_date", Date, nullable=True),
    Column("owner", String(128), nullable=False),
    # `organizations/{id}` in the contacts service, "" when none.
    Column("organization", String(CONTACT_NAME_MAX), nullable=False),
    Column("state", Integer, nullable=False),
    # The owner's override; NULL follows the probability.
    Column("forecast_category_override", Integer, nullable=True),
    Column("forecast_category", Integer, nullable=False),
    # A close_reasons id while won or lost.
    Column("close_reason_id", String(63), nullable=True),
    Column("close_time", UtcDateTime, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("custom_fields", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    ForeignKeyConstraint(["pipeline_id", "stage_id"], [stages.c.pipeline_id, stages.c.id]),
    # The board and the funnel: a pipeline's deals by stage and state.
    Index("ix_opportunities_board", "pipeline_id", "stage_id", "state"),
    # The forecast per owner and period.
    Index("ix_opportunities_owner_close", "owner", "expected_close_date"),
    # An owner's deals in a state, newest first (the filtered list).
    Index("ix_opportunities_owner_state_create", "owner", "state", "create_time", "id"),
    # A pipeline's deals in a state, newest first (the list, also with a tag).
    Index("ix_opportunities_pipeline_state_create", "pipeline_id", "state", "create_time", "id"),
    # Deals in a state by value (the list ordered by value); a range of expected
    # close dates is checked in the index.
    Index("ix_opportunities_state_value", "state", "amount_units", "id", "expected_close_date"),
    # Open deals by expected close date, closed ones by close time (forecast, win
    # rate), covering what the forecast sums so PostgreSQL reads only the index.
    Index(
        "ix_opportunities_state_expected",
        "state",
        "expected_close_date",
        postgresql_include=FORECAST_COLUMNS,
    ),
    Index(
        "ix_opportunities_state_close_time",
        "state",
        "close_time",
        postgresql_include=FORECAST_COLUMNS,
    ),
    Index("ix_opportunities_create_time", "create_time", "id"),
    Index("ix_opportunities_organization", "organization", "id"),
)

opportunity_stage_history = Table(
    "opportunity_stage_history",
    metadata,
    Column(
        "opportunity_id",
        String(63),
        ForeignKey(opportunities.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("pipeline_id", String(63), nullable=False),
    Column("stage_id", String(63), nullable=False),
    Column("enter_time", UtcDateTime, nullable=False),
    # NULL while the deal is still in the stage.
    Column("leave_time", UtcDateTime, nullable=True),
    # Average time in stage reads a stage's visits.
    Index("ix_opportunity_stage_history_stage", "pipeline_id", "stage_id", "enter_time"),
)

opportunity_people = Table(
    "opportunity_people",
    metadata,
    Column(
        "opportunity_id",
        String(63),
        ForeignKey(opportunities.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    # `people/{id}` in the contacts service.
    Column("person", String(CONTACT_NAME_MAX), primary_key=True),
    Column("position", Integer, nullable=False),
    # Merges and erasures find a person's deals.
    Index("ix_opportunity_people_person", "person", "opportunity_id"),
)

opportunity_tags = repeated_values_table(
    metadata, "opportunity_tags", opportunities, "opportunity_id", "tag", TAG_MAX
)

_TAGS = ChildRows(opportunity_tags.c.opportunity_id, opportunity_tags.c.tag)


@dataclass(frozen=True, eq=False)
class StageNameBinding(FieldBinding):
    """`stage = "pipelines/p/stages/s"`: stage ids are unique only within a pipeline."""

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        pipeline_id, _, stage_id = str(node.value).removeprefix(PIPELINES).partition(STAGES)
        same = and_(
            opportunities.c.pipeline_id == pipeline_id, opportunities.c.stage_id == stage_id
        )
        return same if node.op is Op.EQ else not_(same)


@dataclass(frozen=True, eq=False)
class DateBinding(FieldBinding):
    """`expected_close_date < "2025-07-01"`: an ISO date literal against a DATE column."""

    column: ColumnElement[Any]

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        try:
            value = date.fromisoformat(str(node.value))
        except ValueError as error:
            raise InvalidArgument.single(
                "filter", f'{node.field} takes a date like "2025-07-01", not {node.value!r}'
            ) from error
        return ColumnBinding(self.column).compare(replace(node, value=value))

    def has(self, node: Has) -> ColumnElement[bool]:
        return ColumnBinding(self.column).has(node)


SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: opportunities.c[name]
    for name in ("display_name", "create_time", "update_time", "id", "owner", "state")
} | {"value": opportunities.c.amount_units}

FILTER_BINDINGS: dict[str, FieldBinding] = {
    **{
        name: ColumnBinding(opportunities.c[name])
        for name in (
            "display_name",
            "state",
            "owner",
            "organization",
            "create_time",
            "update_time",
            "close_time",
        )
    },
    "expected_close_date": DateBinding(opportunities.c.expected_close_date),
    "value.currency_code": ColumnBinding(opportunities.c.currency_code),
    "value.units": ColumnBinding(opportunities.c.amount_units),
    "effective_probability": ColumnBinding(opportunities.c.effective_probability),
    "forecast_category": ColumnBinding(opportunities.c.forecast_category),
    "pipeline": NormalisedValue(
        ColumnBinding(opportunities.c.pipeline_id), lambda name: name.removeprefix(PIPELINES)
    ),
    "stage": StageNameBinding(),
    "close_reason": NormalisedValue(
        ColumnBinding(opportunities.c.close_reason_id),
        lambda name: name.removeprefix("closeReasons/"),
    ),
    "people": ChildTableBinding(
        opportunities.c.id, opportunity_people.c.opportunity_id, opportunity_people.c.person
    ),
    "tags": _TAGS.binding(opportunities.c.id, lambda tag: tag.strip().lower()),
    "custom_fields": JsonObjectBinding(opportunities.c.custom_fields),
}


# Built once: a statement made per call costs more to build and to key for
# SQLAlchemy's compiled cache than to run.
_BY_ID = select(opportunities).where(opportunities.c.id == bindparam("opportunity_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_INSERT = insert(opportunities)
_INSERT_VISITS = insert(opportunity_stage_history)
_INSERT_PEOPLE = insert(opportunity_people)
_VISITS_OF = (
    select(opportunity_stage_history)
    .where(opportunity_stage_history.c.opportunity_id.in_(bindparam("ids", expanding=True)))
    .order_by(opportunity_stage_history.c.opportunity_id, opportunity_stage_history.c.position)
)
_PEOPLE_OF = (
    select(opportunity_people)
    .where(opportunity_people.c.opportunity_id.in_(bindparam("ids", expanding=True)))
    .order_by(opportunity_people.c.opportunity_id, opportunity_people.c.position)
)
_FORECAST_CELL_OF = select(*(opportunities.c[name] for name in FORECAST_CELL_SOURCE)).where(
    opportunities.c.id == bindparam("opportunity_id")
)


class OpportunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, opportunity_id: str, *, lock: bool = False) -> Opportunity | None:
        query = _BY_ID_FOR_UPDATE if lock else _BY_ID
        row = (await self._session.execute(query, {"opportunity_id": opportunity_id})).first()
        return (await self._with_children([row]))[0] if row else None

    async def add(self, opportunity: Opportunity, pipeline: Pipeline) -> None:
        row = _row(opportunity, pipeline)
        try:
            await self._session.execute(_INSERT, row)
        except IntegrityError as error:
            raise AlreadyExists(f"{opportunity.name} already exists") from error
        await self._write_children(opportunity)
        await self._follow_reach(opportunity, pipeline, [])
        await ForecastRollup(self._session).move(None, forecast_cell(row))

    async def save(
        self, opportunity: Opportunity, pipeline: Pipeline, expected_version: int
    ) -> None:
        # Read before the update; a concurrent change fails the version check below.
        old_cell = await self._forecast_cell_of(opportunity.id)
        row = _row(opportunity, pipeline)
        result = await self._session.execute(
            update(opportunities)
            .where(
                opportunities.c.id == opportunity.id,
                opportunities.c.version == expected_version,
            )
            .values(row)
        )
        if result.rowcount != 1:
            raise Aborted(f"{opportunity.name} was changed concurrently; retry")
        await ForecastRollup(self._session).move(old_cell, forecast_cell(row))
        for table in (opportunity_stage_history, opportunity_people, opportunity_tags):
            await self._session.execute(
                delete(table).where(table.c.opportunity_id == opportunity.id)
            )
        await self._write_children(opportunity)
        rollup = FunnelRollup(self._session)
        await self._follow_reach(opportunity, pipeline, await rollup.reach_of(opportunity.id))

    async def delete(self, opportunity_id: str) -> None:
        rollup = FunnelRollup(self._session)
        await rollup.replace(opportunity_id, await rollup.reach_of(opportunity_id), [])
        await ForecastRollup(self._session).move(await self._forecast_cell_of(opportunity_id), None)
        await self._session.execute(
            delete(opportunities).where(opportunities.c.id == opportunity_id)
        )

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[Opportunity, list[Any]]]:
        query = select(opportunities).where(filter_clause(expr, FILTER_BINDINGS))
        rows = (await self._session.execute(paged(query, keys, SORT_COLUMNS, after, size))).all()
        found = await self._with_children(rows)
        return [
            (opportunity, [_key_value(row, key.field) for key in keys])
            for opportunity, row in zip(found, rows, strict=True)
        ]

    async def ids_linked_to(self, contacts: Collection[str]) -> list[str]:
        """The deals naming any of `contacts` as a person or the organization."""
        if not contacts:
            return []
        by_person = select(opportunity_people.c.opportunity_id).where(
            opportunity_people.c.person.in_(contacts)
        )
        by_organization = select(opportunities.c.id).where(
            opportunities.c.organization.in_(contacts)
        )
        query = by_person.union(by_organization)
        return sorted((await self._session.execute(query)).scalars())

    async def in_use(self, pipeline_id: str, stage_ids: Collection[str] | None = None) -> int:
        """How many deals (any state) sit in the pipeline, or in some of its stages."""
        query = select(func.count()).where(opportunities.c.pipeline_id == pipeline_id)
        if stage_ids is not None:
            query = query.where(opportunities.c.stage_id.in_(stage_ids))
        return int((await self._session.execute(query)).scalar_one())

    async def open_in_stages(self, pipeline_id: str, stage_ids: Collection[str]) -> int:
        query = select(func.count()).where(
            opportunities.c.pipeline_id == pipeline_id,
            opportunities.c.stage_id.in_(stage_ids),
            opportunities.c.state == int(State.OPEN),
        )
        return int((await self._session.execute(query)).scalar_one())

    async def follow_stage_defaults(self, pipeline: Pipeline) -> None:
        """Open deals without an override take their stage's (new) default
        probability, and the forecast category that follows from it. Their
        representation changes, so do their versions; the pipeline's forecast
        cells are summed afresh when any deal changed."""
        changed = 0
        for stage in pipeline.stages:
            result = await self._session.execute(
                update(opportunities)
                .where(
                    opportunities.c.pipeline_id == pipeline.id,
                    opportunities.c.stage_id == stage.id,
                    opportunities.c.state == int(State.OPEN),
                    opportunities.c.probability.is_(None),
                    opportunities.c.effective_probability != stage.probability,
                )
                .values(
                    effective_probability=stage.probability,
                    forecast_category=func.coalesce(
                        opportunities.c.forecast_category_override,
                        int(default_category(stage.probability)),
                    ),
                    version=opportunities.c.version + 1,
                    update_time=pipeline.update_time,
                )
            )
            changed += result.rowcount
        if changed:
            await self.rebuild_forecast_rollup(pipeline.id)

    async def rebuild_forecast_rollup(self, pipeline_id: str | None = None) -> None:
        """The forecast roll-up's cells of one pipeline (or all) summed afresh
        from the deals (crm_sales.storage.forecast_rollup)."""
        await ForecastRollup(self._session).clear(pipeline_id)
        for statement in forecast_rollup_statements(self._postgres, pipeline_id):
            await self._session.execute(statement)

    async def follow_stage_order(self, pipeline: Pipeline) -> None:
        """After the pipeline's stages were reordered: each deal's furthest
        position there recomputed from its stage history, and the pipeline's
        funnel roll-up summed afresh (crm_sales.storage.funnel)."""
        await self._session.execute(
            update(opportunity_reach)
            .where(opportunity_reach.c.pipeline_id == pipeline.id)
            .values(furthest_position=furthest_position_in(opportunity_reach.c))
        )
        await FunnelRollup(self._session).rebuild(pipeline.id)

    async def _forecast_cell_of(self, opportunity_id: str) -> Cell | None:
        """The forecast cell the deal counts in as stored now."""
        params = {"opportunity_id": opportunity_id}
        row = (await self._session.execute(_FORECAST_CELL_OF, params)).first()
        return None if row is None else forecast_cell(row._mapping)

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    async def _follow_reach(
        self, opportunity: Opportunity, pipeline: Pipeline, old: list[dict[str, Any]]
    ) -> None:
        await FunnelRollup(self._session).replace(
            opportunity.id,
            old,
            reach_rows(opportunity, await self._stage_positions(opportunity, pipeline)),
        )

    async def _stage_positions(
        self, opportunity: Opportunity, pipeline: Pipeline
    ) -> dict[str, dict[str, int]]:
        """Board positions of the stages of every pipeline in the deal's history:
        the current one is at hand, others (after a change of pipeline) are read."""
        positions = {pipeline.id: stage_positions(pipeline)}
        others = {visit.pipeline_id for visit in opportunity.stage_history} - {pipeline.id}
        if others:
            query = select(stages.c.pipeline_id, stages.c.id, stages.c.position).where(
                stages.c.pipeline_id.in_(others)
            )
            for row in (await self._session.execute(query)).all():
                positions.setdefault(row.pipeline_id, {})[row.id] = row.position
        return positions

    async def _with_children(self, rows: Sequence[Row[Any]]) -> list[Opportunity]:
        ids = [row.id for row in rows]
        history: dict[str, list[StageVisit]] = {i: [] for i in ids}
        people: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for visit in (await self._session.execute(_VISITS_OF, {"ids": ids})).all():
                history[visit.opportunity_id].append(
                    StageVisit(
                        visit.stage_id,
                        visit.enter_time,
                        visit.leave_time,
                        pipeline_id=visit.pipeline_id,
                    )
                )
            for link in (await self._session.execute(_PEOPLE_OF, {"ids": ids})).all():
                people[link.opportunity_id].append(link.person)
        return [_to_opportunity(row, history[row.id], people[row.id]) for row in rows]

    async def _write_children(self, opportunity: Opportunity) -> None:
        await self._session.execute(
            _INSERT_VISITS,
            [
                {
                    "opportunity_id": opportunity.id,
                    "position": position,
                    "pipeline_id": visit.pipeline_id,
                    "stage_id": visit.stage_id,
                    "enter_time": visit.enter_time,
                    "leave_time": visit.leave_time,
                }
                for position, visit in enumerate(opportunity.stage_history)
            ],
        )
        if opportunity.details.people:
            await self._session.execute(
                _INSERT_PEOPLE,
                [
                    {"opportunity_id": opportunity.id, "person": person, "position": position}
                    for position, person in enumerate(opportunity.details.people)
                ],
            )
        await _TAGS.insert_many(self._session, {opportunity.id: opportunity.details.tags})


def stage_positions(pipeline: Pipeline) -> dict[str, int]:
    """Stage id -> board position, as PipelineRepository stores them."""
    return {stage.id: position for position, stage in enumerate(pipeline.stages)}


def furthest_position_in(reach: Any) -> Any:
    """SQL: the furthest board position the reach row's deal entered in its
    pipeline, from the stage history (what `reach_rows` computes in Python)."""
    history = opportunity_stage_history.c
    return (
        select(func.max(stages.c.position))
        .select_from(opportunity_stage_history)
        .join(
            stages,
            and_(stages.c.pipeline_id == history.pipeline_id, stages.c.id == history.stage_id),
        )
        .where(
            history.opportunity_id == reach.opportunity_id,
            history.pipeline_id == reach.pipeline_id,
        )
        .scalar_subquery()
    )


def forecast_rollup_statements(postgres: bool, pipeline_id: str | None) -> list[Any]:
    """INSERT INTO forecast_rollup the deals (of one pipeline) summed per cell,
    as `forecast_cell` counts them: open ones by expected close month, won ones
    by UTC close month."""
    deals = opportunities.c
    close_time = func.timezone("UTC", deals.close_time) if postgres else deals.close_time
    scope = true() if pipeline_id is None else deals.pipeline_id == pipeline_id
    return [
        _summed_cells(
            deals.expected_close_date,
            and_(scope, deals.state == int(State.OPEN), deals.expected_close_date.is_not(None)),
        ),
        _summed_cells(
            close_time,
            and_(scope, deals.state == int(State.WON), deals.close_time.is_not(None)),
        ),
    ]


def _summed_cells(day: ColumnElement[Any], where: ColumnElement[bool]) -> Any:
    # Grouped in a subquery: PostgreSQL would not match the bound 100 in SELECT and GROUP BY.
    deals = opportunities.c
    percent = deals.effective_probability
    month = cast(extract("year", day), Integer) * 100 + cast(extract("month", day), Integer)
    inner = select(
        month.label("month"),
        *(deals[name] for name in KEY_COLUMNS[1:]),
        deals.amount_units,
        deals.amount_nanos,
        (deals.amount_units * percent).label("weighted_units"),
        # Nanos times percent passes 2^31: PostgreSQL's INTEGER product would overflow.
        (cast(deals.amount_nanos, BigInteger) * percent).label("weighted_nanos"),
    ).where(where)
    sub = inner.subquery()
    keys = [sub.c[name] for name in KEY_COLUMNS]
    summed = select(
        *keys, func.count(), *(func.sum(sub.c[name]) for name in SUM_COLUMNS[1:])
    ).group_by(*keys)
    return insert(forecast_rollup).from_select([*KEY_COLUMNS, *SUM_COLUMNS], summed)


def _key_value(row: Row[Any], field: str) -> Any:
    return row.amount_units if field == "value" else getattr(row, field)


def _row(opportunity: Opportunity, pipeline: Pipeline) -> dict[str, Any]:
    details = opportunity.details
    units, nanos = to_units_nanos(details.value.amount)
    return {
        "id": opportunity.id,
        "display_name": details.display_name,
        "amount_units": units,
        "amount_nanos": nanos,
        "currency_code": details.value.currency,
        "pipeline_id": opportunity.pipeline_id,
        "stage_id": opportunity.stage_id,
        "probability": details.probability,
        "effective_probability": opportunity.probability(pipeline),
        "expected_close_date": details.expected_close_date,
        "owner": details.owner,
        "organization": details.organization,
        "state": int(opportunity.state),
        "forecast_category_override": (
            None if details.forecast_category is None else int(details.forecast_category)
        ),
        "forecast_category": int(opportunity.forecast_category(pipeline)),
        "close_reason_id": opportunity.close_reason or None,
        "close_time": opportunity.close_time,
        "tags": list(details.tags),
        "custom_fields": dict(details.custom_fields),
        "create_time": opportunity.create_time,
        "update_time": opportunity.update_time,
        "version": opportunity.version,
    }


def _to_opportunity(row: Row[Any], history: list[StageVisit], people: list[str]) -> Opportunity:
    category = row.forecast_category_override
    details = OpportunityDetails(
        display_name=row.display_name,
        value=Money(row.currency_code, _amount(row.amount_units, row.amount_nanos)),
        expected_close_date=row.expected_close_date,
        probability=row.probability,
        forecast_category=None if category is None else ForecastCategory(category),
        owner=row.owner,
        organization=row.organization,
        people=tuple(people),
        tags=tuple(row.tags),
        custom_fields=dict(row.custom_fields),
    )
    return Opportunity(
        id=row.id,
        details=details,
        pipeline_id=row.pipeline_id,
        stage_id=row.stage_id,
        state=State(row.state),
        create_time=row.create_time,
        update_time=row.update_time,
        stage_history=tuple(history),
        close_reason=row.close_reason_id or "",
        close_time=row.close_time,
        version=row.version,
    )


def _amount(units: int, nanos: int) -> Decimal:
    return Decimal(units) + Decimal(nanos) * NANOS
