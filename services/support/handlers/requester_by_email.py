"""The ticket rule that points a ticket known only by its requester's address to
the customer who holds that address."""

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.validation import normalise_email
from crm_support.domain.tickets import Ticket, TicketDetails
from crm_support.handlers.change import TicketChange
from crm_support.storage.requester_emails import lock_addresses, person_with_address

_REQUESTER_FIELDS = frozenset({"requester", "requester_email"})


async def resolve_requester(ticket: Ticket, change: TicketChange) -> None:
    """When the helpdesk already knows the person, the ticket points to them at once;
    otherwise the contacts service creates one from `ticket.created` and the
    customer's event re-points the ticket (handlers.customers.adopt_tickets)."""
    details = ticket.details
    if details.requester or not details.requester_email:
        return
    if not (change.created or _REQUESTER_FIELDS.intersection(change.changed_fields)):
        return
    await lock_addresses(change.session, [details.requester_email])
    person = await person_with_address(change.session, details.requester_email)
    if person:
        ticket.details = replace(details, requester=person)
        change.record("requester")


async def lock_requester_address(session: AsyncSession, details: TicketDetails) -> None:
    """For a use case that creates a ticket: the address's lock comes before the
    ticket number counter's (see lock_addresses), so it is taken up front."""
    if not details.requester and details.requester_email:
        await lock_addresses(session, [normalise_email(details.requester_email)])
