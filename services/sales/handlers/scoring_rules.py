"""Use cases for scoring rules, and the job that re-scores leads after a rule change.

A rule change must reach every lead, and there may be a great many. Scoring
them all inside the call that changed the rule would make that call as slow
as the number of leads and hold their rows locked meanwhile; instead the
change only advances the rules' generation (one row, same transaction), and
the `lead-scores` job re-scores stale leads in batches of BATCH, each batch in
its own short transaction. Replicas share the work: a batch locks its rows and
skips rows others hold. Scores therefore follow a rule change within a job
interval or so, and a lead that changes meanwhile is scored at once anyway.
"""

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork, UnitOfWorkFactory
from crm_common.pagination import SortKey
from crm_common.resources import check_retried_create
from crm_sales.domain.lead_scoring import Scorer, condition_problem
from crm_sales.domain.leads import LeadStatus
from crm_sales.domain.scoring import ScoringRule, ScoringRuleRecord
from crm_sales.events.leads import lead_updated
from crm_sales.handlers.leads import SCORE_FIELDS
from crm_sales.storage.leads import LeadRepository, ScoringGeneration, ScoringRuleRepository

BATCH = 200


async def create_rule(uow: UnitOfWork, rule: ScoringRule) -> ScoringRuleRecord:
    """Adds a rule (`rule.id` empty: a generated id); a retry with the same
    id and content returns the rule it created."""
    chosen = bool(rule.id)
    if not chosen:
        rule = replace(rule, id=uuid.uuid4().hex)
    record = ScoringRuleRecord.create(rule, condition_problem, datetime.now(UTC))
    async with uow:
        repository = ScoringRuleRepository(uow.session)
        if chosen and (existing := await repository.get(rule.id)) is not None:
            check_retried_create(existing.name, existing.rule, record.rule)
            return existing
        await repository.add(record)
        await ScoringGeneration(uow.session).advance()
        await uow.commit()
    return record


async def get_rule(uow: UnitOfWork, rule_id: str) -> ScoringRuleRecord:
    async with uow:
        return await _existing(ScoringRuleRepository(uow.session), rule_id)


async def list_rules(
    uow: UnitOfWork, keys: tuple[SortKey, ...], after: Sequence[Any] | None, size: int
) -> Page[ScoringRuleRecord]:
    async with uow:
        found = await ScoringRuleRepository(uow.session).page(keys, after, size)
    return Page.of(found, size)


async def update_rule(
    uow: UnitOfWork, rule_id: str, changes: dict[str, Any], etag: str
) -> ScoringRuleRecord:
    async with uow:
        repository = ScoringRuleRepository(uow.session)
        record = await _existing(repository, rule_id, lock=True)
        check_etag(etag, record.version, record.name)
        read_version = record.version
        if record.update(changes, condition_problem, datetime.now(UTC)):
            await repository.save(record, read_version)
            await ScoringGeneration(uow.session).advance()
            await uow.commit()
    return record


async def delete_rule(uow: UnitOfWork, rule_id: str, etag: str) -> None:
    async with uow:
        repository = ScoringRuleRepository(uow.session)
        record = await _existing(repository, rule_id, lock=True)
        check_etag(etag, record.version, record.name)
        await repository.delete(rule_id)
        await ScoringGeneration(uow.session).advance()
        await uow.commit()


async def rescore_stale_leads(units: UnitOfWorkFactory, now: datetime) -> None:
    """The `lead-scores` job: re-scores every lead scored under older rules."""
    while await _rescore_batch(units(), now):
        pass


async def _rescore_batch(uow: UnitOfWork, now: datetime) -> bool:
    """Re-scores up to BATCH stale leads; False when none was left."""
    async with uow:
        generation = await ScoringGeneration(uow.session).current()
        leads = LeadRepository(uow.session)
        stale = await leads.stale(generation, BATCH)
        if not stale:
            return False
        scorer = Scorer(await ScoringRuleRepository(uow.session).all())
        counts = await leads.activity_counts([lead.id for lead in stale], scorer.activities)
        unchanged = []
        for lead in stale:
            read_version = lead.version
            # A converted lead's score is part of the record of its conversion.
            if lead.status is not LeadStatus.CONVERTED and lead.rescore(
                scorer.score(lead, counts.get(lead.id, {})), now
            ):
                await leads.save_score(lead, read_version, generation)
                uow.publish(lead_updated(lead, SCORE_FIELDS))
            else:
                unchanged.append(lead.id)
        await leads.mark_scored(unchanged, generation)
        await uow.commit()
    return True


async def _existing(
    repository: ScoringRuleRepository, rule_id: str, *, lock: bool = False
) -> ScoringRuleRecord:
    record = await repository.get(rule_id, lock=lock)
    if record is None:
        raise NotFound(f"scoringRules/{rule_id} does not exist")
    return record
