"""Ticket filters evaluated in memory agree with ListTickets' SQL on the same tickets.

Each case states what it selects; the in-memory answer and the SQL answer
(the real tickets table and bindings, on SQLite) must both be exactly that.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_common.filtering import parse_filter
from crm_common.storage.db import create_engine, session_factory
from crm_common.storage.filter_sql import filter_clause
from crm_support.domain.filter_placeholders import expand
from crm_support.domain.sla_state import SlaMetric, SlaTarget
from crm_support.domain.ticket_match import SUPPORTED_FIELDS, matches
from crm_support.domain.tickets import (
    FILTER_SCHEMA,
    Channel,
    Priority,
    Ticket,
    TicketDetails,
    TicketStatus,
    TicketType,
)
from crm_support.storage.tables import customers, metadata
from crm_support.storage.tickets import (
    FILTER_BINDINGS,
    TicketRepository,
    ticket_tags,
    tickets,
)

NOW = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
DAY = timedelta(days=1)


def _ticket(ticket_id: str, number: int, created: datetime, **details: object) -> Ticket:
    fields: dict[str, object] = {"subject": f"Ticket {ticket_id}", **details}
    if "requester" not in fields:
        fields["requester_email"] = "someone@example.com"
    channel = Channel.WEB if ticket_id == "open" else Channel.EMAIL
    return Ticket.create(ticket_id, number, TicketDetails(**fields), channel, created)  # type: ignore[arg-type]


def _tickets() -> list[Ticket]:
    new = _ticket(
        "new",
        1001,
        NOW - 3 * DAY,
        requester="people/ada",
        organization="organizations/acme",
        tags=("hardware",),
    )
    opened = _ticket(
        "open",
        1002,
        NOW - 2 * DAY,
        priority=Priority.URGENT,
        tags=("vip", "billing"),
        assignee="agents/grace",
        group="groups/tier2",
        links=("opportunities/9",),
    )
    opened.update({"status": TicketStatus.OPEN}, NOW - 2 * DAY)
    opened.record_comment(public=True, by_agent=True, now=NOW - DAY)
    old_solved = _ticket(
        "old-solved",
        1003,
        NOW - 9 * DAY,
        requester="people/bob",
        priority=Priority.LOW,
        type=TicketType.INCIDENT,
    )
    old_solved.update({"status": TicketStatus.SOLVED}, NOW - 5 * DAY)
    old_solved.sla_policy = "slaPolicies/gold"
    old_solved.sla_targets = (
        SlaTarget(SlaMetric.RESOLUTION, 3600, due_time=NOW + timedelta(hours=1)),
        SlaTarget(SlaMetric.FIRST_RESPONSE, 600, due_time=NOW - DAY, fulfill_time=NOW - DAY),
    )
    recent_solved = _ticket("recent-solved", 1004, NOW - 2 * DAY, requester="people/cy")
    recent_solved.update({"status": TicketStatus.SOLVED}, NOW - DAY)
    closed = _ticket("closed", 1005, NOW - 20 * DAY, requester="people/ada")
    closed.update({"status": TicketStatus.SOLVED}, NOW - 15 * DAY)
    closed.update({"status": TicketStatus.CLOSED}, NOW - 10 * DAY)
    return [new, opened, old_solved, recent_solved, closed]


ALL = {"new", "open", "old-solved", "recent-solved", "closed"}

CASES: list[tuple[str, set[str]]] = [
    ("", ALL),
    ("status = NEW", {"new"}),
    ("status != new", ALL - {"new"}),
    ("-status = CLOSED", ALL - {"closed"}),
    ("status = SOLVED AND solve_time <= @now-4d", {"old-solved"}),
    ("status = SOLVED AND solve_time <= @now-1s", {"old-solved", "recent-solved"}),
    ("solve_time > @now-2d", {"recent-solved"}),
    ("NOT solve_time > @now-2d", ALL - {"recent-solved"}),
    ("solve_time = null", {"new", "open"}),
    ("solve_time != null", {"old-solved", "recent-solved", "closed"}),
    ("solve_time:*", {"old-solved", "recent-solved", "closed"}),
    ("priority = URGENT OR priority = LOW", {"open", "old-solved"}),
    ("NOT priority = URGENT", ALL - {"open"}),
    ("type = INCIDENT", {"old-solved"}),
    ("type != UNSPECIFIED", {"old-solved"}),
    ("channel = WEB", {"open"}),
    ('tags:"VIP"', {"open"}),
    ("tags:*", {"new", "open"}),
    ("NOT tags:*", {"old-solved", "recent-solved", "closed"}),
    ('tags:"billing" AND tags:"vip"', {"open"}),
    ('links:"opportunities/9"', {"open"}),
    ('links:"OPPORTUNITIES/9"', set()),
    ("links:*", {"open"}),
    ('requester = "people/ada"', {"new", "closed"}),
    ('requester = "ada"', {"new", "closed"}),
    ('requester != "people/ada"', ALL - {"new", "closed"}),
    ('requester = ""', {"open"}),
    ("requester:*", ALL - {"open"}),
    ('requester < "people/c"', {"new", "open", "old-solved", "closed"}),
    ("requester = null", set()),
    ("requester != null", ALL),
    ('organization = "organizations/acme"', {"new"}),
    ("organization:*", {"new"}),
    ('assignee = "agents/grace"', {"open"}),
    ('assignee = ""', ALL - {"open"}),
    ("assignee = null", set()),
    ("(status = OPEN OR status = NEW) AND NOT assignee:*", {"new"}),
    ('group = "groups/tier2"', {"open"}),
    ('sla_policy = "slaPolicies/gold"', {"old-solved"}),
    ("sla_policy:*", {"old-solved"}),
    ("sla_due_time < @now+2h", {"old-solved"}),
    ("NOT sla_due_time < @now+2h", ALL - {"old-solved"}),
    ("sla_due_time = null", ALL - {"old-solved"}),
    ("first_response_time:*", {"open"}),
    ("first_response_time <= @now-1d", {"open"}),
    ("number >= 1003", {"old-solved", "recent-solved", "closed"}),
    ("number = 1001", {"new"}),
    ("number != 1001 AND number < 1003", {"open"}),
    ("create_time < @now-2d", {"new", "old-solved", "closed"}),
    ('create_time >= "2026-02-28T09:30:15.123456Z"', {"open", "recent-solved"}),
    ("update_time >= @now-1d", {"open", "recent-solved"}),
    ("NOT (status = SOLVED OR status = CLOSED) AND priority != LOW", {"new", "open"}),
]


@pytest.fixture(scope="module")
def sql_selects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """What ListTickets' SQL selects for each case, from the real tables on SQLite."""
    database = Path(tmp_path_factory.mktemp("ticket-match")) / "tickets.db"
    return asyncio.run(_select_all(f"sqlite+aiosqlite:///{database}"))


async def _select_all(url: str) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tables = [customers, tickets, ticket_tags]
            await connection.run_sync(lambda sync: metadata.create_all(sync, tables=tables))
        async with session_factory(engine)() as session:
            repository = TicketRepository(session)
            for ticket in _tickets():
                await repository.add(ticket)
            await session.commit()
            selected = {}
            for text, _ in CASES:
                where = filter_clause(_parse(text), FILTER_BINDINGS)
                rows = await session.execute(select(tickets.c.id).where(where))
                selected[text] = set(rows.scalars())
            return selected
    finally:
        await engine.dispose()


def _parse(text: str) -> object:
    return parse_filter(expand(text, NOW), FILTER_SCHEMA)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text or "(none)" for text, _ in CASES])
def test_memory_and_sql_select_the_same_tickets(
    text: str, expected: set[str], sql_selects: dict[str, set[str]]
) -> None:
    expr = _parse(text)
    in_memory = {ticket.id for ticket in _tickets() if matches(expr, ticket)}  # type: ignore[arg-type]
    assert in_memory == expected
    assert sql_selects[text] == expected


def test_a_ticket_not_yet_saved_is_judged_as_it_would_be_stored() -> None:
    fresh = Ticket.create(
        "fresh",
        1,
        TicketDetails(subject="Hi", requester="people/ada", tags=("VIP",)),
        Channel.API,
        NOW,
    )
    assert matches(_parse('tags:"vip" AND requester = "people/ada" AND status = NEW'), fresh)  # type: ignore[arg-type]
    assert not matches(_parse("first_response_time <= @now"), fresh)  # type: ignore[arg-type]


def test_every_filterable_ticket_field_is_judged_in_memory() -> None:
    assert set(FILTER_SCHEMA.fields) == SUPPORTED_FIELDS
    assert not FILTER_SCHEMA.custom_prefixes
