"""Who an email address belongs to, as far as the helpdesk's copy of the contacts knows.

Tickets and comments that arrive with only an address (`requester_email`, an email's
sender) point to a person as soon as one holds that address: either at once, when
the customer read model already knows it, or when the contacts service announces
the person. The two paths meet on a lock per address (see `lock_addresses`).
"""

import hashlib
from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import (
    Column,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.validation import normalise_email
from crm_support.domain.tickets import PEOPLE
from crm_support.storage.tables import customers, metadata
from crm_support.storage.tickets import ticket_comments, tickets

# The addresses of the customers in the read model: `customers.email_addresses`
# as rows, so that an address is found by an index rather than by reading JSON.
# While events arrive out of order, two customers may briefly share an address.
customer_emails = Table(
    "customer_emails",
    metadata,
    Column("address", String(254), nullable=False),
    Column("customer_id", String(63), nullable=False),
    PrimaryKeyConstraint("address", "customer_id"),
    Index("ix_customer_emails_customer", "customer_id"),
)

# Only rows still waiting for a person are indexed: the few the contacts'
# events have to find among all tickets and comments. Queries spell the empty
# string as a literal: PostgreSQL uses a partial index only for a predicate it
# can match when planning, which a bound parameter is not in a generic plan.
_EMPTY = literal_column("''")
Index(
    "ix_tickets_unresolved_requester",
    tickets.c.requester_email,
    postgresql_where=tickets.c.requester_id == _EMPTY,
    sqlite_where=tickets.c.requester_id == _EMPTY,
)
Index(
    "ix_ticket_comments_unresolved_author",
    ticket_comments.c.author_email,
    postgresql_where=ticket_comments.c.author == _EMPTY,
    sqlite_where=ticket_comments.c.author == _EMPTY,
)


async def lock_addresses(session: AsyncSession, addresses: Iterable[str]) -> None:
    """Serialises, per address, looking a requester up with registering its owner.

    Without it, on PostgreSQL a ticket created while the person's event is applied
    could miss both ways: its lookup before the address is registered, the
    re-pointing before the ticket is committed. Taken before either reads, each
    sees the other's commit. Transaction-scoped advisory locks, in a fixed order,
    and taken before the ticket number counter and any ticket row, so that no two
    transactions wait for each other in a circle. SQLite has one writer at a time.
    """
    if session.bind.dialect.name != "postgresql":
        return
    for key in sorted({_lock_key(address) for address in addresses}):
        await session.execute(select(func.pg_advisory_xact_lock(key)))


def _lock_key(address: str) -> int:
    digest = hashlib.sha256(b"requester-email:" + address.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def person_with_address(session: AsyncSession, address: str) -> str:
    """`people/{id}` of the customer holding the address, "" when none does.

    Call `lock_addresses` first when the answer decides what is stored.
    """
    query = (
        select(customer_emails.c.customer_id)
        .join(customers, customers.c.id == customer_emails.c.customer_id)
        .where(customer_emails.c.address == normalise_email(address))
        .where(customers.c.deleted.is_(False))
        # The newest copy wins while an address moves between people.
        .order_by(customers.c.update_time.desc(), customers.c.id)
        .limit(1)
    )
    customer_id = await session.scalar(query)
    return PEOPLE + customer_id if customer_id else ""


async def replace_addresses(
    session: AsyncSession, customer_id: str, addresses: Iterable[str]
) -> None:
    """The customer's rows, as its copy now says."""
    await forget_addresses(session, [customer_id])
    await add_addresses(session, {customer_id: addresses})


async def forget_addresses(session: AsyncSession, customer_ids: Collection[str]) -> None:
    await session.execute(
        delete(customer_emails).where(customer_emails.c.customer_id.in_(customer_ids))
    )


async def add_addresses(session: AsyncSession, addresses: Mapping[str, Iterable[str]]) -> None:
    """Rows for customers (by id) that hold none yet."""
    rows = [
        {"address": address, "customer_id": customer_id}
        for customer_id, held in addresses.items()
        for address in dict.fromkeys(normalise_email(a) for a in held)
        if address
    ]
    if rows:
        await session.execute(insert(customer_emails), rows)


async def tickets_awaiting(session: AsyncSession, addresses: Collection[str]) -> list[str]:
    """Ids of the tickets whose requester is known only by one of the addresses."""
    query = (
        select(tickets.c.id)
        .where(tickets.c.requester_id == _EMPTY, tickets.c.requester_email.in_(addresses))
        .order_by(tickets.c.id)
    )
    return list((await session.scalars(query)).all())


async def attribute_comments(
    session: AsyncSession, addresses: Collection[str], person: str
) -> None:
    """Comments sent from the addresses by someone unknown then are the person's."""
    await session.execute(
        update(ticket_comments)
        .where(ticket_comments.c.author == _EMPTY, ticket_comments.c.author_email.in_(addresses))
        .values(author=person)
    )
