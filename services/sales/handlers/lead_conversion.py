"""Converting a qualified lead into contacts and, optionally, an opportunity.

Never half-done, and a retry creates nothing twice:

1. The conversion's ids (person, organization, opportunity) are chosen once
   and stored (`lead_conversions`), after checking the lead may convert and,
   in a transaction rolled back at once, that the opportunity asked for
   could be created (its fields, pipeline and stage).
2. The person and the organization are created in the contacts service under
   those ids. An outage there fails the call (UNAVAILABLE) with the lead
   unchanged; a retry creates them under the same ids, which contacts
   answers with the ones made before.
3. Only then, in ONE unit of work: the opportunity is created (by the
   opportunities use case, joined to this transaction), the lead is marked
   CONVERTED with what was created, and `lead.converted` is announced.

Calling again for a converted lead answers with what the conversion created
when the call repeats the one that completed it, and FAILED_PRECONDITION
otherwise.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import FailedPrecondition, Violations
from crm_common.messaging.uow import UnitOfWork, UnitOfWorkFactory
from crm_common.validation import check_id
from crm_sales.contacts_gateway import ContactsGateway
from crm_sales.domain.leads import Conversion, Lead, LeadStatus
from crm_sales.domain.money import Money
from crm_sales.domain.opportunities import OpportunityDetails, OpportunityDraft
from crm_sales.events.leads import lead_converted
from crm_sales.handlers.leads import existing_lead
from crm_sales.handlers.opportunities import add_opportunity
from crm_sales.storage.contacts import KnownContact, KnownContacts
from crm_sales.storage.leads import ConversionRepository, LeadRepository, PlannedConversion


@dataclass(frozen=True)
class OpportunitySpec:
    """The opportunity a conversion opens."""

    display_name: str
    value: Money
    # `pipelines/{id}`, and a stage id within it ("" for its first stage).
    pipeline: str
    stage_id: str

    def as_json(self) -> dict[str, str]:
        return {
            "display_name": self.display_name,
            "currency": self.value.currency,
            "amount": str(self.value.amount),
            "pipeline": self.pipeline,
            "stage_id": self.stage_id,
        }


@dataclass(frozen=True)
class ConversionResult:
    lead: Lead
    person: str
    organization: str
    opportunity: str


async def convert_lead(
    units: UnitOfWorkFactory,
    contacts: ContactsGateway,
    lead_id: str,
    spec: OpportunitySpec | None,
    request_id: str,
) -> ConversionResult:
    if request_id:
        violations = Violations()
        check_id(violations, "request_id", request_id)
        violations.raise_if_any()
    request = {"request_id": request_id, "opportunity": spec.as_json() if spec else None}
    planned, lead, done = await _plan(units(), lead_id, request)
    if done is not None:
        return done
    if spec is not None:
        await _check_opportunity(units(), spec, planned.opportunity_id)
    person = await contacts.create_person(planned.person_id, lead)
    organization = ""
    if lead.details.company_name:
        organization = await contacts.create_organization(planned.organization_id, lead)
    return await _complete(units(), lead_id, planned, request, spec, person, organization)


async def _plan(
    uow: UnitOfWork, lead_id: str, request: dict[str, Any]
) -> tuple[PlannedConversion, Lead, ConversionResult | None]:
    """The conversion's ids, the lead, and the earlier result when this call repeats one."""
    async with uow:
        lead = await existing_lead(LeadRepository(uow.session), lead_id)
        conversions = ConversionRepository(uow.session)
        if lead.status is LeadStatus.CONVERTED:
            return await _repeated(conversions, lead, request)
        _check_convertible(lead)
        planned = await conversions.plan(
            lead_id, PlannedConversion(_new_id(), _new_id(), _new_id(), None)
        )
        await uow.commit()
    return planned, lead, None


async def _repeated(
    conversions: ConversionRepository, lead: Lead, request: dict[str, Any]
) -> tuple[PlannedConversion, Lead, ConversionResult]:
    planned = await conversions.get(lead.id)
    if planned is None or planned.request != request or lead.conversion is None:
        raise FailedPrecondition(f"{lead.name} was converted already, by another request")
    conversion = lead.conversion
    result = ConversionResult(
        lead, conversion.person, conversion.organization, conversion.opportunity
    )
    return planned, lead, result


def _check_convertible(lead: Lead) -> None:
    if lead.status is not LeadStatus.QUALIFIED:
        raise FailedPrecondition(
            f"{lead.name} is {lead.status.name}; only a QUALIFIED lead can be converted"
        )
    if not (lead.details.given_name or lead.details.family_name):
        raise FailedPrecondition(
            f"{lead.name} has no given or family name, which a person needs; update it first"
        )


async def _check_opportunity(uow: UnitOfWork, spec: OpportunitySpec, opportunity_id: str) -> None:
    """Fails as creating the opportunity would (bad value, unknown pipeline or
    stage), before any contact is created; the transaction is rolled back."""
    async with uow:
        await add_opportunity(uow, _draft(spec, "", "", ""), opportunity_id)


async def _complete(
    uow: UnitOfWork,
    lead_id: str,
    planned: PlannedConversion,
    request: dict[str, Any],
    spec: OpportunitySpec | None,
    person: str,
    organization: str,
) -> ConversionResult:
    now = datetime.now(UTC)
    async with uow:
        leads = LeadRepository(uow.session)
        lead = await existing_lead(leads, lead_id, lock=True)
        conversions = ConversionRepository(uow.session)
        if lead.status is LeadStatus.CONVERTED:
            # A concurrent call with the same request completed first.
            return (await _repeated(conversions, lead, request))[2]
        _check_convertible(lead)
        await _know(uow.session, [person, organization], lead, now)
        opportunity = ""
        if spec is not None:
            draft = _draft(spec, person, organization, lead.details.owner)
            deal = await add_opportunity(uow, draft, planned.opportunity_id)
            opportunity = deal.opportunity.name
        read_version = lead.version
        lead.convert(Conversion(person, organization, opportunity, now))
        # A converted lead's score is final: its scored generation stays as it was.
        await leads.save(lead, read_version)
        await conversions.complete(lead_id, request)
        uow.publish(lead_converted(lead))
        await uow.commit()
    return ConversionResult(lead, person, organization, opportunity)


async def _know(session: AsyncSession, names: list[str], lead: Lead, now: datetime) -> None:
    """Tells the read model of contacts about the ones just created, so the
    opportunity may link them before their `contact.created` events arrive.
    Version 0: those events (version 1 on) still apply in full."""
    display = {
        names[0]: " ".join(filter(None, (lead.details.given_name, lead.details.family_name))),
        names[1]: lead.details.company_name,
    }
    known = KnownContacts(session)
    for name in filter(None, names):
        if await known.get(name) is not None:
            continue
        try:
            async with session.begin_nested():
                await known.put(KnownContact(name, display[name], 0, now), exists=False)
        except IntegrityError:
            pass  # its event arrived meanwhile, which says as much


def _draft(spec: OpportunitySpec, person: str, organization: str, owner: str) -> OpportunityDraft:
    details = OpportunityDetails(
        display_name=spec.display_name,
        value=spec.value,
        owner=owner,
        organization=organization,
        people=(person,) if person else (),
    )
    return OpportunityDraft(details, spec.pipeline, spec.stage_id)


def _new_id() -> str:
    return uuid.uuid4().hex
