"""Use cases for leads: create, read, update, delete, and their activities.

A lead is scored again in the same transaction whenever it changes or gets an
activity, under the rules current at that moment (see `score_now`).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import FailedPrecondition, NotFound, Violations
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_common.validation import check_id
from crm_sales.domain.lead_scoring import Scorer
from crm_sales.domain.leads import Lead, LeadDetails, LeadStatus
from crm_sales.domain.scoring import Score, check_activity_kind
from crm_sales.events.leads import lead_created, lead_updated
from crm_sales.storage.leads import LeadRepository, ScoringGeneration, ScoringRuleRepository

# The fields a new score changes, as `lead.updated` names them.
SCORE_FIELDS = ["score", "score_breakdown"]


async def score_now(session: AsyncSession, lead: Lead) -> tuple[Score, int]:
    """The lead's score under the current rules, and the rules' generation.

    The generation is read before the rules: a rule change committing in
    between then leaves the lead marked with the older generation, so the
    rescoring job looks at it again, rather than marked current with a score
    from older rules.
    """
    generation = await ScoringGeneration(session).current()
    scorer = Scorer(await ScoringRuleRepository(session).all())
    counts = await LeadRepository(session).activity_counts([lead.id], scorer.activities)
    return scorer.score(lead, counts.get(lead.id, {})), generation


async def create_lead(uow: UnitOfWork, details: LeadDetails, lead_id: str = "") -> Lead:
    """Adds a NEW lead, scored; with a client-chosen id, a retry returns the lead it created."""
    async with uow:
        repository = LeadRepository(uow.session)
        lead = Lead.create(lead_id or uuid.uuid4().hex, details, datetime.now(UTC))
        if lead_id and (existing := await repository.get(lead_id)) is not None:
            check_retried_create(existing.name, existing.details, lead.details)
            return existing
        score, generation = await score_now(uow.session, lead)
        lead.first_score(score)
        await repository.add(lead, generation)
        uow.publish(lead_created(lead))
        await uow.commit()
    return lead


async def get_lead(uow: UnitOfWork, lead_id: str) -> Lead:
    async with uow:
        return await existing_lead(LeadRepository(uow.session), lead_id)


async def list_leads(
    uow: UnitOfWork,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    after: Sequence[Any] | None,
    size: int,
) -> Page[Lead]:
    async with uow:
        found = await LeadRepository(uow.session).page(expr, keys, after, size)
    return Page.of(found, size)


async def update_lead(uow: UnitOfWork, lead_id: str, changes: dict[str, Any], etag: str) -> Lead:
    async with uow:
        repository = LeadRepository(uow.session)
        lead = await existing_lead(repository, lead_id, lock=True)
        check_etag(etag, lead.version, lead.name)
        read_version = lead.version
        now = datetime.now(UTC)
        changed = lead.change(changes, now)
        if not changed:
            return lead
        score, generation = await score_now(uow.session, lead)
        if lead.rescore(score, now):
            changed += SCORE_FIELDS
        await repository.save(lead, read_version, generation)
        uow.publish(lead_updated(lead, changed))
        await uow.commit()
    return lead


async def delete_lead(uow: UnitOfWork, lead_id: str, etag: str) -> None:
    """Refused for a converted lead: it records where its contacts came from."""
    async with uow:
        repository = LeadRepository(uow.session)
        lead = await existing_lead(repository, lead_id, lock=True)
        check_etag(etag, lead.version, lead.name)
        if lead.status is LeadStatus.CONVERTED:
            raise FailedPrecondition(f"{lead.name} was converted; it is kept as the record")
        await repository.delete(lead_id)
        await uow.commit()


async def record_activity(
    uow: UnitOfWork, lead_id: str, kind: str, occur_time: datetime | None, activity_id: str
) -> Lead:
    """Records what the lead did and scores it again; a retry (same id) adds nothing."""
    now = datetime.now(UTC)
    _check_activity(kind, occur_time, activity_id, now)
    async with uow:
        repository = LeadRepository(uow.session)
        lead = await existing_lead(repository, lead_id, lock=True)
        if lead.status is LeadStatus.CONVERTED:
            raise FailedPrecondition(f"{lead.name} was converted; its score no longer changes")
        added = await repository.add_activity(
            lead_id, activity_id or uuid.uuid4().hex, kind, occur_time or now
        )
        if added:
            read_version = lead.version
            score, generation = await score_now(uow.session, lead)
            if lead.rescore(score, now):
                await repository.save_score(lead, read_version, generation)
                uow.publish(lead_updated(lead, SCORE_FIELDS))
            await uow.commit()
    return lead


def _check_activity(
    kind: str, occur_time: datetime | None, activity_id: str, now: datetime
) -> None:
    violations = Violations()
    if not kind:
        violations.add("kind", "is required, like email_opened")
    check_activity_kind(violations, "kind", kind)
    if occur_time is not None and occur_time > now:
        violations.add("occur_time", "is in the future")
    if activity_id:
        check_id(violations, "request_id", activity_id)
    violations.raise_if_any()


async def existing_lead(repository: LeadRepository, lead_id: str, *, lock: bool = False) -> Lead:
    lead = await repository.get(lead_id, lock=lock)
    if lead is None:
        raise NotFound(f"leads/{lead_id} does not exist")
    return lead
