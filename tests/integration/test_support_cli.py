"""`crm support ...` as a real process against the support service, on SQLite
and PostgreSQL."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2
from tests.integration.harness import Suite

CRM = Path(sys.executable).with_name("crm")


def crm(
    suite: Suite | None, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    target = suite.processes["support"].address if suite else "127.0.0.1:1"
    return subprocess.run(
        [str(CRM), "support", *args],
        env={**os.environ, "CRM_SUPPORT_TARGET": target, "CRM_AGENT": "agents/ada"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def new_ticket(suite: Suite, subject: str) -> ticket_pb2.Ticket:
    return suite.support.CreateTicket(
        support.CreateTicketRequest(
            ticket=ticket_pb2.Ticket(
                subject=subject,
                description="The printer prints nothing.",
                requester_email="grace@example.com",
                priority=ticket_pb2.TICKET_PRIORITY_URGENT,
            )
        )
    )


def status_of(suite: Suite, ticket: ticket_pb2.Ticket) -> int:
    return suite.support.GetTicket(support.GetTicketRequest(name=ticket.name)).status


def test_an_agent_works_a_ticket_from_queue_to_solved(suite: Suite) -> None:
    subject = f"Printer down {uuid.uuid4().hex[:8]}"
    ticket = new_ticket(suite, subject)
    number = str(ticket.number)

    queue = crm(suite, "queue", "--limit", "1000")
    assert queue.returncode == 0, queue.stderr
    header, *rows = queue.stdout.splitlines()
    assert header.split() == ["NUMBER", "STATUS", "PRIORITY", "SUBJECT", "REQUESTER", "UPDATED"]
    row = next(line for line in rows if subject in line)
    assert row.split()[:3] == [f"#{number}", "NEW", "URGENT"]
    # The address, or the name of the contact it became a moment later.
    assert "grace" in row

    replied = crm(suite, "reply", number, "Have you tried turning it off and on?")
    assert replied.returncode == 0, replied.stderr
    noted = crm(suite, "note", number, "-", stdin="Customer is on the old firmware.\n")
    assert noted.returncode == 0, noted.stderr

    shown = crm(suite, "show", number)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert f"Ticket #{number}: {subject}" in out
    assert "The printer prints nothing." in out
    reply_at = out.index("[PUBLIC REPLY] agents/ada")
    note_at = out.index("[INTERNAL NOTE] agents/ada")
    assert reply_at < out.index("Have you tried turning it off and on?") < note_at
    assert note_at < out.index("Customer is on the old firmware.")

    solved = crm(suite, "solve", number)
    assert solved.returncode == 0, solved.stderr
    assert f"Solved ticket #{number}" in solved.stdout
    assert status_of(suite, ticket) == ticket_pb2.TICKET_STATUS_SOLVED
    assert subject not in crm(suite, "queue", "--limit", "1000").stdout
    assert subject in crm(suite, "queue", "--status", "solved", "--limit", "1000").stdout

    # Staying put is an allowed transition: solving a solved ticket changes nothing.
    again = crm(suite, "solve", number)
    assert again.returncode == 0, again.stderr
    assert "already solved" in again.stdout
    assert status_of(suite, ticket) == ticket_pb2.TICKET_STATUS_SOLVED


def test_refusals_are_one_line_and_exit_1(suite: Suite) -> None:
    ticket = new_ticket(suite, "To be closed")
    bad_author = crm(suite, "reply", str(ticket.number), "hi", "--agent", "nobody")
    assert bad_author.returncode == 1
    assert "INVALID_ARGUMENT" in bad_author.stderr and "comment.author" in bad_author.stderr
    assert len(bad_author.stderr.splitlines()) == 1

    suite.support.UpdateTicket(
        support.UpdateTicketRequest(
            ticket=ticket_pb2.Ticket(name=ticket.name, status=ticket_pb2.TICKET_STATUS_SOLVED),
            update_mask={"paths": ["status"]},
        )
    )
    suite.support.UpdateTicket(
        support.UpdateTicketRequest(
            ticket=ticket_pb2.Ticket(name=ticket.name, status=ticket_pb2.TICKET_STATUS_CLOSED),
            update_mask={"paths": ["status"]},
        )
    )

    closed = crm(suite, "solve", str(ticket.number))
    assert closed.returncode == 1
    assert closed.stderr.startswith("crm support: FAILED_PRECONDITION:")
    assert "closed" in closed.stderr
    assert len(closed.stderr.splitlines()) == 1

    missing = crm(suite, "show", "999999")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "crm support: no ticket #999999"

    unreachable = crm(None, "queue")
    assert unreachable.returncode == 1
    assert "cannot reach the support service" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
