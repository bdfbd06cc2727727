"""The tickets and comments tables, the ticket number counter, and their repositories."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
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
    Text,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import Sequence as DatabaseSequence
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists
from crm_common.filtering import Comparison, Expr, Has, Op
from crm_common.pagination import SortKey
from crm_common.storage.child_rows import ChildRows, repeated_values_table
from crm_common.storage.db import UtcDateTime
from crm_common.storage.filter_sql import (
    ColumnBinding,
    FieldBinding,
    JsonArrayBinding,
    filter_clause,
)
from crm_common.storage.filter_values import NormalisedValue
from crm_common.storage.keyset import paged
from crm_support.domain.comments import Attachment, Comment
from crm_support.domain.sla_state import targets_from_json, targets_to_json
from crm_support.domain.tickets import (
    AGENTS,
    GROUPS,
    ORGANIZATIONS,
    PEOPLE,
    SLA_POLICIES,
    TICKETS,
    Channel,
    Priority,
    SatisfactionRating,
    SatisfactionScore,
    Ticket,
    TicketDetails,
    TicketStatus,
    TicketType,
)
from crm_support.storage.tables import customers, metadata

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("number", BigInteger, nullable=False, unique=True),
    Column("subject", String(250), nullable=False),
    Column("description", Text, nullable=False),
    # Ids without their `people/` and `organizations/` prefixes; "" when unset.
    Column("requester_id", String(200), nullable=False),
    Column("requester_email", String(254), nullable=False),
    Column("organization_id", String(200), nullable=False),
    Column("status", Integer, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("type", Integer, nullable=False),
    Column("channel", Integer, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("custom_fields", JSON, nullable=False),
    Column("followers", JSON, nullable=False),
    Column("first_response_time", UtcDateTime, nullable=True),
    Column("solve_time", UtcDateTime, nullable=True),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("assignee_id", String(200), nullable=False),
    Column("group_id", String(200), nullable=False),
    Column("links", JSON, nullable=False),
    Column("sla_policy_id", String(63), nullable=False),
    Column("sla_targets", JSON, nullable=False),
    Column("sla_due_time", UtcDateTime, nullable=True),
    # sla_due_time, or NO_DUE_TIME: a key that is never NULL, so the queue
    # can page through it and tickets without a running target sort last.
    Column("sla_due_order", UtcDateTime, nullable=False),
    Column("sla_check_time", UtcDateTime, nullable=True),
    Column("merged_into_id", String(63), nullable=False),
    Column("satisfaction", JSON, nullable=True),
    Column("satisfaction_score", Integer, nullable=True),
    Column("requester_name", String(200), nullable=False),
    Column("attachments", JSON, nullable=False),
    # The agents' usual views: a queue by status and priority, a requester's or
    # an organization's tickets, and everything newest first.
    Index("ix_tickets_status_priority", "status", "priority", "create_time", "id"),
    Index("ix_tickets_requester", "requester_id", "create_time"),
    Index("ix_tickets_organization", "organization_id", "create_time"),
    Index("ix_tickets_create_time", "create_time", "id"),
    Index("ix_tickets_assignee", "assignee_id", "status"),
    Index("ix_tickets_group", "group_id", "status"),
    Index("ix_tickets_sla_due", "sla_due_order", "id"),
    # The agent queue and the views over it: an agent's working tickets, the
    # unassigned ones of a group, unassigned urgent ones, each one range.
    Index("ix_tickets_queue", "assignee_id", "status", "group_id", "priority"),
    Index("ix_tickets_sla_check", "sla_check_time"),
)

ticket_tags = repeated_values_table(metadata, "ticket_tags", tickets, "ticket_id", "tag", 64)

# Ticket numbers on PostgreSQL come from a sequence: a counter row would be
# locked from the create until its commit, serialising every concurrent
# create. A rolled-back create leaves a gap, as numbers at any helpdesk do.
TICKET_NUMBERS = DatabaseSequence("ticket_number_seq", metadata=metadata)

# On SQLite, one row holds the last number handed out; SQLite serialises
# writers anyway, and incrementing it takes that write lock.
ticket_numbers = Table(
    "ticket_numbers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last", BigInteger, nullable=False),
)

ticket_comments = Table(
    "ticket_comments",
    metadata,
    Column("id", String(63), primary_key=True),
    Column(
        "ticket_id",
        String(63),
        ForeignKey(tickets.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("body", Text, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("author", String(200), nullable=False),
    Column("attachments", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("author_email", String(254), nullable=False),
    Index("ix_ticket_comments_ticket", "ticket_id", "create_time", "id"),
)

_TAGS = ChildRows(ticket_tags.c.ticket_id, ticket_tags.c.tag)

NO_DUE_TIME = datetime(9999, 12, 31, tzinfo=UTC)

SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    **{
        name: tickets.c[name]
        for name in ("create_time", "update_time", "priority", "number", "status", "id")
    },
    "sla_due_time": tickets.c.sla_due_order,
}


def _without(prefix: str) -> Any:
    return lambda name: name.removeprefix(prefix)


@dataclass(frozen=True, eq=False)
class _DueTimeBinding(FieldBinding):
    """`sla_due_time` tested on sla_due_order, the indexed key views sort by,
    so that "due within the hour" is one range of ix_tickets_sla_due rather
    than a scan. NO_DUE_TIME stands for "no due time" and is excluded from
    every comparison, as SQL NULL would be."""

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        due = tickets.c.sla_due_order
        if node.value is None:
            return due == NO_DUE_TIME if node.op is Op.EQ else due < NO_DUE_TIME
        return and_(ColumnBinding(due).compare(node), due < NO_DUE_TIME)

    def has(self, node: Has) -> ColumnElement[bool]:
        return tickets.c.sla_due_order < NO_DUE_TIME


FILTER_BINDINGS = {
    **{
        name: ColumnBinding(tickets.c[name])
        for name in ("number", "status", "priority", "type", "channel")
    },
    "create_time": ColumnBinding(tickets.c.create_time),
    "update_time": ColumnBinding(tickets.c.update_time),
    # Clients write resource names; the columns hold bare ids.
    "requester": NormalisedValue(ColumnBinding(tickets.c.requester_id), _without(PEOPLE)),
    "organization": NormalisedValue(
        ColumnBinding(tickets.c.organization_id), _without(ORGANIZATIONS)
    ),
    "tags": _TAGS.binding(tickets.c.id, str.lower),
    "assignee": NormalisedValue(ColumnBinding(tickets.c.assignee_id), _without(AGENTS)),
    "group": NormalisedValue(ColumnBinding(tickets.c.group_id), _without(GROUPS)),
    "sla_policy": NormalisedValue(ColumnBinding(tickets.c.sla_policy_id), _without(SLA_POLICIES)),
    "sla_due_time": _DueTimeBinding(),
    **{name: ColumnBinding(tickets.c[name]) for name in ("first_response_time", "solve_time")},
    "links": JsonArrayBinding(tickets.c.links),
}

# The requester's name comes along from the customer read model.
_KNOWN_CUSTOMER = and_(customers.c.id == tickets.c.requester_id, customers.c.deleted.is_(False))
_WITH_REQUESTER = select(
    tickets, customers.c.display_name.label("requester_display_name")
).select_from(tickets.outerjoin(customers, _KNOWN_CUSTOMER))
# A page reads the name of its own tickets' requesters only (customers.id is
# the key, so at most one each, as the outer join gives): a correlated
# subquery, which PostgreSQL evaluates after the sort and the limit, one key
# lookup per row of the page. Joined, the planner may hash every customer first.
_LISTED = select(
    tickets,
    select(customers.c.display_name)
    .where(_KNOWN_CUSTOMER)
    .scalar_subquery()
    .label("requester_display_name"),
)

# Built once: a statement made per call costs more to build and to key for
# SQLAlchemy's compiled cache than to run.
_BY_ID = _WITH_REQUESTER.where(tickets.c.id == bindparam("ticket_id"))
# A new ticket as stored, the requester's name included: what `get` reads back.
# (The requester is a parameter of its own: SQLite's RETURNING cannot name the
# inserted row's columns inside a subquery.)
_INSERT_TICKET = insert(tickets).returning(
    tickets,
    select(customers.c.display_name)
    .where(customers.c.id == bindparam("known_requester"), customers.c.deleted.is_(False))
    .scalar_subquery()
    .label("requester_display_name"),
)
_NEXT_NUMBER_ON_POSTGRESQL = select(TICKET_NUMBERS.next_value())
_NEXT_NUMBER_ON_SQLITE = (
    update(ticket_numbers)
    .where(ticket_numbers.c.id == 1)
    .values(last=ticket_numbers.c.last + 1)
    .returning(ticket_numbers.c.last)
)


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, ticket_id: str) -> Ticket | None:
        row = (await self._session.execute(_BY_ID, {"ticket_id": ticket_id})).first()
        return _to_ticket(row) if row else None

    async def lock(self, *ticket_ids: str) -> None:
        """Row-locks the tickets until the transaction ends (PostgreSQL; SQLite has a
        single writer anyway), so that what is read next stays current.

        Always in id order: two use cases locking the same tickets cannot deadlock.
        """
        await self._session.execute(
            select(tickets.c.id)
            .where(tickets.c.id.in_(sorted(ticket_ids)))
            .order_by(tickets.c.id)
            .with_for_update(key_share=True)
        )

    async def get_by_number(self, number: int) -> Ticket | None:
        query = _WITH_REQUESTER.where(tickets.c.number == number)
        row = (await self._session.execute(query)).first()
        return _to_ticket(row) if row else None

    async def next_number(self) -> int:
        if self._session.get_bind().dialect.name == "postgresql":
            return int(await self._session.scalar(_NEXT_NUMBER_ON_POSTGRESQL))
        return int((await self._session.execute(_NEXT_NUMBER_ON_SQLITE)).scalar_one())

    async def add(self, ticket: Ticket) -> Ticket:
        """Inserts the ticket; returns it as stored, as `get` reads it."""
        values = _to_row(ticket)
        try:
            inserted = {**values, "known_requester": values["requester_id"]}
            row = (await self._session.execute(_INSERT_TICKET, inserted)).one()
        except IntegrityError as error:
            raise AlreadyExists(f"{ticket.name} already exists") from error
        await _TAGS.insert_many(self._session, {ticket.id: ticket.details.tags})
        return _to_ticket(row)

    async def save(self, ticket: Ticket, expected_version: int) -> None:
        result = await self._session.execute(
            update(tickets)
            .where(tickets.c.id == ticket.id, tickets.c.version == expected_version)
            .values(_to_row(ticket))
        )
        if result.rowcount != 1:
            raise Aborted(f"{ticket.name} was changed concurrently; retry")
        await _TAGS.replace(self._session, ticket.id, ticket.details.tags)

    async def page(
        self, expr: Expr | None, keys: Sequence[SortKey], after: Sequence[Any] | None, size: int
    ) -> list[tuple[Ticket, list[Any]]]:
        """Up to size + 1 tickets, each with the key values a page token carries."""
        query = _LISTED.where(filter_clause(expr, FILTER_BINDINGS))
        rows = (await self._session.execute(paged(query, keys, SORT_COLUMNS, after, size))).all()
        return [(_to_ticket(row), [_sort_value(row, k.field) for k in keys]) for row in rows]

    async def counts(self, exprs: Sequence[Expr | None], limit: int) -> list[int]:
        """How many tickets match each filter, counting no further than `limit`.

        One statement, so that on any backend the counts share one snapshot.
        """
        if not exprs:
            return []
        counted = [
            select(func.count())
            .select_from(
                select(tickets.c.id)
                .where(filter_clause(expr, FILTER_BINDINGS))
                .limit(limit)
                .subquery()
            )
            .scalar_subquery()
            for expr in exprs
        ]
        row = (await self._session.execute(select(*counted))).one()
        return [int(value) for value in row]


class CommentRepository:
    _COLUMNS = {"create_time": ticket_comments.c.create_time, "id": ticket_comments.c.id}
    ORDER = (SortKey("create_time"), SortKey("id"))

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, comment: Comment) -> None:
        await self._session.execute(insert(ticket_comments).values(_comment_row(comment)))

    async def get(self, comment_id: str) -> Comment | None:
        query = select(ticket_comments).where(ticket_comments.c.id == comment_id)
        row = (await self._session.execute(query)).first()
        return _to_comment(row) if row else None

    async def move(self, from_ticket_id: str, to_ticket_id: str) -> None:
        """Moves a ticket's whole conversation to another, as written (authors, times)."""
        await self._session.execute(
            update(ticket_comments)
            .where(ticket_comments.c.ticket_id == from_ticket_id)
            .values(ticket_id=to_ticket_id)
        )

    async def page(
        self, ticket_id: str, after: Sequence[Any] | None, size: int
    ) -> list[tuple[Comment, list[Any]]]:
        """Oldest first: up to size + 1 comments, each with its page-token key."""
        query = select(ticket_comments).where(ticket_comments.c.ticket_id == ticket_id)
        statement = paged(query, self.ORDER, self._COLUMNS, after, size)
        rows = (await self._session.execute(statement)).all()
        return [(_to_comment(row), [row.create_time, row.id]) for row in rows]


def _sort_value(row: Row[Any], field: str) -> Any:
    return row.sla_due_order if field == "sla_due_time" else getattr(row, field)


def _to_row(ticket: Ticket) -> dict[str, Any]:
    details = ticket.details
    due = ticket.sla_due_time
    return {
        "id": ticket.id,
        "number": ticket.number,
        "subject": details.subject,
        "description": details.description,
        "requester_id": details.requester.removeprefix(PEOPLE),
        "requester_email": details.requester_email,
        "organization_id": details.organization.removeprefix(ORGANIZATIONS),
        "status": int(ticket.status),
        "priority": int(details.priority),
        "type": int(details.type),
        "channel": int(ticket.channel),
        "tags": list(details.tags),
        "custom_fields": dict(details.custom_fields),
        "followers": list(details.followers),
        "first_response_time": ticket.first_response_time,
        "solve_time": ticket.solve_time,
        "create_time": ticket.create_time,
        "update_time": ticket.update_time,
        "version": ticket.version,
        "assignee_id": details.assignee.removeprefix(AGENTS),
        "group_id": details.group.removeprefix(GROUPS),
        "links": list(details.links),
        "attachments": [asdict(a) for a in details.attachments],
        "requester_name": ticket.requester_name,
        "sla_policy_id": ticket.sla_policy.removeprefix(SLA_POLICIES),
        "sla_targets": targets_to_json(ticket.sla_targets),
        "sla_due_time": due,
        "sla_due_order": due or NO_DUE_TIME,
        "sla_check_time": ticket.sla_check_time,
        "merged_into_id": ticket.merged_into.removeprefix(TICKETS),
        "satisfaction": _satisfaction_json(ticket.satisfaction),
        "satisfaction_score": int(ticket.satisfaction.score) if ticket.satisfaction else None,
    }


def _satisfaction_json(rating: SatisfactionRating | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {
        **asdict(rating),
        "score": int(rating.score),
        "create_time": rating.create_time.isoformat(),
    }


def _satisfaction(value: dict[str, Any] | None) -> SatisfactionRating | None:
    if value is None:
        return None
    return SatisfactionRating(
        **{
            **value,
            "score": SatisfactionScore(value["score"]),
            "create_time": datetime.fromisoformat(value["create_time"]),
        }
    )


def _prefixed(prefix: str, resource_id: str) -> str:
    return prefix + resource_id if resource_id else ""


def _to_ticket(row: Row[Any]) -> Ticket:
    return Ticket(
        id=row.id,
        number=row.number,
        details=TicketDetails(
            subject=row.subject,
            description=row.description,
            requester=_prefixed(PEOPLE, row.requester_id),
            requester_email=row.requester_email,
            organization=_prefixed(ORGANIZATIONS, row.organization_id),
            priority=Priority(row.priority),
            type=TicketType(row.type),
            tags=tuple(row.tags),
            custom_fields=dict(row.custom_fields),
            followers=tuple(row.followers),
            assignee=_prefixed(AGENTS, row.assignee_id),
            group=_prefixed(GROUPS, row.group_id),
            links=tuple(row.links),
            attachments=tuple(Attachment(**a) for a in row.attachments),
        ),
        status=TicketStatus(row.status),
        channel=Channel(row.channel),
        create_time=row.create_time,
        update_time=row.update_time,
        first_response_time=row.first_response_time,
        solve_time=row.solve_time,
        version=row.version,
        sla_policy=_prefixed(SLA_POLICIES, row.sla_policy_id),
        sla_targets=targets_from_json(row.sla_targets),
        sla_check_time=row.sla_check_time,
        merged_into=_prefixed(TICKETS, row.merged_into_id),
        satisfaction=_satisfaction(row.satisfaction),
        requester_name=row.requester_name,
        requester_display_name=row.requester_display_name or row.requester_name,
    )


def _comment_row(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "ticket_id": comment.ticket_id,
        "body": comment.body,
        "public": comment.public,
        "author": comment.author,
        "attachments": [asdict(a) for a in comment.attachments],
        "create_time": comment.create_time,
        "author_email": comment.author_email,
    }


def _to_comment(row: Row[Any]) -> Comment:
    return Comment(
        id=row.id,
        ticket_id=row.ticket_id,
        body=row.body,
        public=row.public,
        author=row.author,
        attachments=tuple(Attachment(**a) for a in row.attachments),
        create_time=row.create_time,
        author_email=row.author_email,
    )
