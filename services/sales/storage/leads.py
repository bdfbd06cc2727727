"""Leads, their activities, scoring rules and conversions: tables and repositories.

Scores follow rule changes through a generation counter: every rule change
bumps `scoring_state.generation` in its own transaction, and each lead row
records the generation it was last scored under. Leads scored under an older
generation are stale; the rescoring job works through them in batches
(handlers/lead_scoring.py).
"""

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import Expr
from crm_common.pagination import SortKey
from crm_common.storage.child_rows import ChildRows, repeated_values_table
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import ColumnBinding, JsonObjectBinding, filter_clause
from crm_common.storage.filter_values import NormalisedValue
from crm_common.storage.keyset import paged
from crm_common.validation import TAG_MAX, normalise_email
from crm_sales.domain.leads import Conversion, Lead, LeadDetails, LeadStatus
from crm_sales.domain.scoring import RuleKind, ScoreLine, ScoringRule, ScoringRuleRecord
from crm_sales.storage.tables import metadata

leads = Table(
    "leads",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(50), nullable=False),
    Column("company_name", String(200), nullable=False),
    Column("title", String(200), nullable=False),
    Column("source", String(64), nullable=False),
    Column("owner", String(128), nullable=False),
    Column("status", Integer, nullable=False),
    Column("disqualify_reason", String(500), nullable=False),
    # BIGINT: a filter may compare it with any int64.
    Column("score", BigInteger, nullable=False),
    Column("score_breakdown", JSON, nullable=False),
    Column("scored_generation", BigInteger, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("custom_fields", JSON, nullable=False),
    Column("converted_person", String(63), nullable=False),
    Column("converted_organization", String(63), nullable=False),
    Column("converted_opportunity", String(63), nullable=False),
    Column("convert_time", UtcDateTime, nullable=True),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # The hot lists: a status or an owner's leads, best first; all leads by score.
    Index("ix_leads_status_score", "status", "score", "id"),
    Index("ix_leads_owner_score", "owner", "score", "id"),
    Index("ix_leads_score", "score", "id"),
    Index("ix_leads_create_time", "create_time", "id"),
    # What the rescoring job looks for after a rule change.
    Index("ix_leads_scored_generation", "scored_generation"),
)

lead_tags = repeated_values_table(metadata, "lead_tags", leads, "lead_id", "tag", TAG_MAX)

lead_activities = Table(
    "lead_activities",
    metadata,
    Column("lead_id", String(63), ForeignKey(leads.c.id, ondelete="CASCADE"), primary_key=True),
    # The client's request id, or a generated one: a retried record adds no row.
    Column("id", String(63), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("occur_time", UtcDateTime, nullable=False),
    Index("ix_lead_activities_kind", "lead_id", "kind"),
)

scoring_rules = Table(
    "scoring_rules",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("condition", String(2000), nullable=False),
    Column("activity", String(64), nullable=False),
    Column("points", Integer, nullable=False),
    Column("cap", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_scoring_rules_display_name", "display_name", "id"),
)

# One row: the generation of the rules; a lead scored under an older one is stale.
scoring_state = Table(
    "scoring_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
)

# A conversion's contact ids are chosen before contacts is called, so that a
# retry after a failure creates the same person and organization, not new ones.
# `request` is what the call that completed it asked for (None while pending):
# a repeat of that call gets the same answer.
lead_conversions = Table(
    "lead_conversions",
    metadata,
    Column("lead_id", String(63), ForeignKey(leads.c.id, ondelete="CASCADE"), primary_key=True),
    Column("person_id", String(63), nullable=False),
    Column("organization_id", String(63), nullable=False),
    Column("opportunity_id", String(63), nullable=False),
    Column("request", JSON, nullable=True),
)

_SCORE_COLUMNS = ("score", "score_breakdown", "scored_generation", "update_time", "version")
_TAGS = ChildRows(lead_tags.c.lead_id, lead_tags.c.tag)

LEAD_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: leads.c[name]
    for name in ("score", "create_time", "update_time", "family_name", "company_name", "id")
}

_PEOPLE, _ORGANIZATIONS, _OPPORTUNITIES = "people/", "organizations/", "opportunities/"


def _lower(value: str) -> str:
    return value.strip().lower()


LEAD_FILTER_BINDINGS = {
    **{
        name: ColumnBinding(leads.c[name])
        for name in (
            "given_name",
            "family_name",
            "phone",
            "company_name",
            "title",
            "owner",
            "status",
            "score",
            "create_time",
            "update_time",
        )
    },
    "email": NormalisedValue(ColumnBinding(leads.c.email), normalise_email),
    "source": NormalisedValue(ColumnBinding(leads.c.source), _lower),
    "tags": _TAGS.binding(leads.c.id, _lower),
    "custom_fields": JsonObjectBinding(leads.c.custom_fields),
}


class LeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, lead_id: str, *, lock: bool = False) -> Lead | None:
        """The lead; with `lock`, row-locked until commit so that the rescoring
        job and other writers wait rather than conflict."""
        query = select(leads).where(leads.c.id == lead_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return _to_lead(row) if row else None

    async def add(self, lead: Lead, generation: int) -> None:
        try:
            await self._session.execute(insert(leads).values(_lead_row(lead, generation)))
        except IntegrityError as error:
            raise AlreadyExists(f"{lead.name} already exists") from error
        await _TAGS.insert_many(self._session, {lead.id: lead.details.tags})

    async def save(self, lead: Lead, expected_version: int, generation: int | None = None) -> None:
        """Writes the lead; `generation` is the rules' its score is from (None: unchanged)."""
        row = _lead_row(lead, generation)
        if generation is None:
            del row["scored_generation"]
        result = await self._session.execute(
            update(leads)
            .where(leads.c.id == lead.id, leads.c.version == expected_version)
            .values(row)
        )
        if result.rowcount != 1:
            raise Aborted(f"{lead.name} was changed concurrently; retry")
        await _TAGS.replace(self._session, lead.id, lead.details.tags)

    async def save_score(self, lead: Lead, expected_version: int, generation: int) -> None:
        """Writes only what scoring changes, for rescoring many leads at once."""
        row = _lead_row(lead, generation)
        result = await self._session.execute(
            update(leads)
            .where(leads.c.id == lead.id, leads.c.version == expected_version)
            .values({name: row[name] for name in _SCORE_COLUMNS})
        )
        if result.rowcount != 1:
            raise Aborted(f"{lead.name} was changed concurrently; retry")

    async def mark_scored(self, lead_ids: Collection[str], generation: int) -> None:
        """Records that these leads' scores are those of `generation` already."""
        if lead_ids:
            await self._session.execute(
                update(leads).where(leads.c.id.in_(lead_ids)).values(scored_generation=generation)
            )

    async def delete(self, lead_id: str) -> None:
        await self._session.execute(delete(leads).where(leads.c.id == lead_id))

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[Lead, list[Any]]]:
        """Up to size + 1 leads, each with the key values a page token carries."""
        query = select(leads).where(filter_clause(expr, LEAD_FILTER_BINDINGS))
        rows = (
            await self._session.execute(paged(query, keys, LEAD_SORT_COLUMNS, after, size))
        ).all()
        return [(_to_lead(row), [getattr(row, key.field) for key in keys]) for row in rows]

    async def stale(self, generation: int, limit: int) -> list[Lead]:
        """Up to `limit` leads scored under an older generation, locked until commit.

        Rows another replica's job (or a request) holds are skipped, so replicas
        share the work rather than queue on each other (PostgreSQL; SQLite has
        one writer anyway).
        """
        query = (
            select(leads)
            .where(leads.c.scored_generation < generation)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_to_lead(row) for row in (await self._session.execute(query)).all()]

    async def add_activity(
        self, lead_id: str, activity_id: str, kind: str, occur_time: datetime
    ) -> bool:
        """Records an activity; False when one with this id was recorded already."""
        known = select(lead_activities.c.id).where(
            lead_activities.c.lead_id == lead_id, lead_activities.c.id == activity_id
        )
        if (await self._session.execute(known)).first() is not None:
            return False
        await self._session.execute(
            insert(lead_activities).values(
                lead_id=lead_id, id=activity_id, kind=kind, occur_time=occur_time
            )
        )
        return True

    async def activity_counts(
        self, lead_ids: Collection[str], kinds: Collection[str]
    ) -> dict[str, dict[str, int]]:
        """For each lead, how many activities of each of `kinds` it has."""
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        if not lead_ids or not kinds:
            return counts
        query = (
            select(lead_activities.c.lead_id, lead_activities.c.kind, func.count())
            .where(lead_activities.c.lead_id.in_(lead_ids), lead_activities.c.kind.in_(kinds))
            .group_by(lead_activities.c.lead_id, lead_activities.c.kind)
        )
        for lead_id, kind, count in (await self._session.execute(query)).all():
            counts[lead_id][kind] = count
        return counts


class ScoringRuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, rule_id: str, *, lock: bool = False) -> ScoringRuleRecord | None:
        query = select(scoring_rules).where(scoring_rules.c.id == rule_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return _to_rule(row) if row else None

    async def all(self) -> list[ScoringRule]:
        """Every rule, in a stable order so breakdowns list lines the same way."""
        query = select(scoring_rules).order_by(scoring_rules.c.create_time, scoring_rules.c.id)
        return [_to_rule(row).rule for row in (await self._session.execute(query)).all()]

    async def add(self, record: ScoringRuleRecord) -> None:
        try:
            await self._session.execute(insert(scoring_rules).values(_rule_row(record)))
        except IntegrityError as error:
            raise AlreadyExists(f"{record.name} already exists") from error

    async def save(self, record: ScoringRuleRecord, expected_version: int) -> None:
        result = await self._session.execute(
            update(scoring_rules)
            .where(
                scoring_rules.c.id == record.rule.id, scoring_rules.c.version == expected_version
            )
            .values(_rule_row(record))
        )
        if result.rowcount != 1:
            raise Aborted(f"{record.name} was changed concurrently; retry")

    async def delete(self, rule_id: str) -> None:
        await self._session.execute(delete(scoring_rules).where(scoring_rules.c.id == rule_id))

    async def page(
        self, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[ScoringRuleRecord, list[Any]]]:
        columns = {"display_name": scoring_rules.c.display_name, "id": scoring_rules.c.id}
        query = paged(select(scoring_rules), keys, columns, after, size)
        rows = (await self._session.execute(query)).all()
        return [(_to_rule(row), [getattr(row, key.field) for key in keys]) for row in rows]


class ScoringGeneration:
    """The generation of the scoring rules."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def current(self) -> int:
        query = select(scoring_state.c.generation).where(scoring_state.c.id == 1)
        return int((await self._session.execute(query)).scalar_one())

    async def advance(self) -> None:
        """Marks every lead stale. The row stays locked until commit, so rule
        changes happen one at a time."""
        await self._session.execute(
            update(scoring_state)
            .where(scoring_state.c.id == 1)
            .values(generation=scoring_state.c.generation + 1)
        )


@dataclass(frozen=True)
class PlannedConversion:
    """The ids a lead's conversion uses, and the request that completed it (if any)."""

    person_id: str
    organization_id: str
    opportunity_id: str
    request: dict[str, Any] | None


class ConversionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, lead_id: str) -> PlannedConversion | None:
        query = select(lead_conversions).where(lead_conversions.c.lead_id == lead_id)
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return PlannedConversion(
            row.person_id, row.organization_id, row.opportunity_id, row.request
        )

    async def plan(self, lead_id: str, planned: PlannedConversion) -> PlannedConversion:
        """Records the ids unless a plan exists; returns the plan that holds."""
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(lead_conversions).values(
                        lead_id=lead_id,
                        person_id=planned.person_id,
                        organization_id=planned.organization_id,
                        opportunity_id=planned.opportunity_id,
                        request=None,
                    )
                )
        except IntegrityError:
            existing = await self.get(lead_id)
            if existing is None:
                raise
            return existing
        return planned

    async def complete(self, lead_id: str, request: dict[str, Any]) -> None:
        await self._session.execute(
            update(lead_conversions)
            .where(lead_conversions.c.lead_id == lead_id)
            .values(request=request)
        )


def _lead_row(lead: Lead, generation: int | None) -> dict[str, Any]:
    details = lead.details
    conversion = lead.conversion
    return {
        "id": lead.id,
        "given_name": details.given_name,
        "family_name": details.family_name,
        "email": details.email,
        "phone": details.phone,
        "company_name": details.company_name,
        "title": details.title,
        "source": details.source,
        "owner": details.owner,
        "status": int(lead.status),
        "disqualify_reason": lead.disqualify_reason,
        "score": lead.score,
        "score_breakdown": [
            {
                "rule": line.rule_id,
                "name": line.display_name,
                "points": line.points,
                "reason": line.reason,
            }
            for line in lead.breakdown
        ],
        "scored_generation": generation,
        "tags": list(details.tags),
        "custom_fields": dict(details.custom_fields),
        "converted_person": conversion.person.removeprefix(_PEOPLE) if conversion else "",
        "converted_organization": (
            conversion.organization.removeprefix(_ORGANIZATIONS) if conversion else ""
        ),
        "converted_opportunity": (
            conversion.opportunity.removeprefix(_OPPORTUNITIES) if conversion else ""
        ),
        "convert_time": conversion.time if conversion else None,
        "create_time": lead.create_time,
        "update_time": lead.update_time,
        "version": lead.version,
    }


def _name(prefix: str, resource_id: str) -> str:
    return f"{prefix}{resource_id}" if resource_id else ""


def _to_lead(row: Row[Any]) -> Lead:
    conversion = None
    if row.convert_time is not None:
        conversion = Conversion(
            _name(_PEOPLE, row.converted_person),
            _name(_ORGANIZATIONS, row.converted_organization),
            _name(_OPPORTUNITIES, row.converted_opportunity),
            row.convert_time,
        )
    return Lead(
        id=row.id,
        details=LeadDetails(
            given_name=row.given_name,
            family_name=row.family_name,
            email=row.email,
            phone=row.phone,
            company_name=row.company_name,
            title=row.title,
            source=row.source,
            owner=row.owner,
            tags=tuple(row.tags),
            custom_fields=dict(row.custom_fields),
        ),
        status=LeadStatus(row.status),
        create_time=row.create_time,
        update_time=row.update_time,
        disqualify_reason=row.disqualify_reason,
        score=row.score,
        breakdown=tuple(
            ScoreLine(line["rule"], line["name"], line["points"], line["reason"])
            for line in row.score_breakdown
        ),
        conversion=conversion,
        version=row.version,
    )


def _rule_row(record: ScoringRuleRecord) -> dict[str, Any]:
    rule = record.rule
    return {
        "id": rule.id,
        "display_name": rule.display_name,
        "kind": int(rule.kind),
        "condition": rule.condition,
        "activity": rule.activity,
        "points": rule.points,
        "cap": rule.cap,
        "active": rule.active,
        "create_time": record.create_time,
        "update_time": record.update_time,
        "version": record.version,
    }


def _to_rule(row: Row[Any]) -> ScoringRuleRecord:
    rule = ScoringRule(
        id=row.id,
        display_name=row.display_name,
        kind=RuleKind(row.kind),
        points=row.points,
        condition=row.condition,
        activity=row.activity,
        cap=row.cap,
        active=row.active,
    )
    return ScoringRuleRecord(rule, row.create_time, row.update_time, row.version)
