"""Tickets and comments: validation and the status state machine."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_support.domain.comments import Attachment, Comment
from crm_support.domain.tickets import (
    Channel,
    Priority,
    Ticket,
    TicketDetails,
    TicketStatus,
)

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
S = TicketStatus
ALLOWED = {
    (S.NEW, S.OPEN),
    (S.NEW, S.PENDING),
    (S.NEW, S.ON_HOLD),
    (S.NEW, S.SOLVED),
    (S.OPEN, S.PENDING),
    (S.OPEN, S.ON_HOLD),
    (S.OPEN, S.SOLVED),
    (S.PENDING, S.OPEN),
    (S.PENDING, S.ON_HOLD),
    (S.PENDING, S.SOLVED),
    (S.ON_HOLD, S.OPEN),
    (S.ON_HOLD, S.PENDING),
    (S.ON_HOLD, S.SOLVED),
    (S.SOLVED, S.OPEN),
    (S.SOLVED, S.CLOSED),
}
ALL_PAIRS = [(a, b) for a in S for b in S if a != b]


def details(**overrides: object) -> TicketDetails:
    return TicketDetails(**{"subject": "Printer on fire", "requester": "people/p1", **overrides})


def ticket_in(status: TicketStatus) -> Ticket:
    ticket = Ticket.create("t1", 1000, details(), Channel.API, NOW)
    ticket.status = status
    return ticket


def violations_of(error: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {v.field for v in error.value.violations}


def test_create_starts_new_with_defaults() -> None:
    ticket = Ticket.create(
        "t1", 1000, details(tags=(" Billing", "billing", "VIP")), Channel.API, NOW
    )
    assert ticket.status is S.NEW and ticket.version == 1
    assert ticket.details.priority is Priority.NORMAL
    assert ticket.details.tags == ("billing", "vip")


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED), ids=str)
def test_allowed_transitions(current: TicketStatus, new: TicketStatus) -> None:
    ticket = ticket_in(current)
    assert ticket.update({"status": new}, NOW + timedelta(1)) == ["status"]
    assert ticket.status is new and ticket.version == 2
    assert (ticket.solve_time is not None) == (new is S.SOLVED)


@pytest.mark.parametrize(("current", "new"), [p for p in ALL_PAIRS if p not in ALLOWED], ids=str)
def test_refused_transitions(current: TicketStatus, new: TicketStatus) -> None:
    ticket = ticket_in(current)
    with pytest.raises(FailedPrecondition, match=f"{current.name}|closed"):
        ticket.update({"status": new}, NOW)
    assert ticket.status is current and ticket.version == 1


def test_same_status_changes_nothing() -> None:
    ticket = ticket_in(S.OPEN)
    assert ticket.update({"status": S.OPEN}, NOW) == []
    assert ticket.version == 1


def test_closed_is_final_for_every_field() -> None:
    with pytest.raises(FailedPrecondition, match="closed"):
        ticket_in(S.CLOSED).update({"subject": "again"}, NOW)


def test_update_reports_only_real_changes() -> None:
    ticket = ticket_in(S.OPEN)
    changed = ticket.update({"subject": "Printer on fire", "tags": ("X",)}, NOW)
    assert changed == ["tags"] and ticket.details.tags == ("x",)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "  "}, "ticket.subject"),
        ({"subject": "x" * 251}, "ticket.subject"),
        ({"description": "x" * 100_001}, "ticket.description"),
        ({"requester": ""}, "ticket.requester"),
        ({"requester": "persons/1"}, "ticket.requester"),
        ({"requester": "people/a/b"}, "ticket.requester"),
        ({"requester": "", "requester_email": "nope"}, "ticket.requester_email"),
        ({"organization": "orgs/1"}, "ticket.organization"),
        ({"tags": ("a,b",)}, "ticket.tags[0]"),
        ({"custom_fields": {"Bad": "x"}}, "ticket.custom_fields['Bad']"),
        ({"custom_fields": {"ok": "x" * 1001}}, "ticket.custom_fields['ok']"),
        ({"followers": ("u 1",)}, "ticket.followers[0]"),
        ({"followers": tuple(f"u{i}" for i in range(101))}, "ticket.followers"),
    ],
)
def test_validation_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        Ticket.create("t1", 1000, details(**overrides), Channel.API, NOW)
    assert field in violations_of(error)


def test_requester_email_alone_is_enough_and_normalised() -> None:
    ticket = Ticket.create(
        "t1", 1000, details(requester="", requester_email=" Ada@Example.COM "), Channel.EMAIL, NOW
    )
    assert ticket.details.requester_email == "ada@example.com"


def comment(**overrides: object) -> Comment:
    fields: dict[str, object] = {
        "comment_id": "c1",
        "ticket_id": "t1",
        "body": "Have you tried turning it off?",
        "public": True,
        "author": "agents/a1",
        "attachments": (),
        "now": NOW,
        **overrides,
    }
    return Comment.create(**fields)  # type: ignore[arg-type]


def test_first_public_agent_reply_stamps_first_response_once() -> None:
    ticket = ticket_in(S.OPEN)
    ticket.record_comment(public=False, by_agent=True, now=NOW)
    ticket.record_comment(public=True, by_agent=False, now=NOW)
    assert ticket.first_response_time is None
    ticket.record_comment(public=True, by_agent=True, now=NOW + timedelta(hours=1))
    ticket.record_comment(public=True, by_agent=True, now=NOW + timedelta(hours=2))
    assert ticket.first_response_time == NOW + timedelta(hours=1)
    assert ticket.version == 5


def test_no_comments_on_closed_tickets() -> None:
    with pytest.raises(FailedPrecondition, match="closed"):
        ticket_in(S.CLOSED).record_comment(public=True, by_agent=True, now=NOW)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"body": " "}, "comment.body"),
        ({"body": "x" * 100_001}, "comment.body"),
        ({"author": "users/1"}, "comment.author"),
        ({"author": ""}, "comment.author"),
        ({"attachments": (Attachment(""),)}, "comment.attachments[0].file_name"),
        (
            {"attachments": (Attachment("a.pdf", size_bytes=-1),)},
            "comment.attachments[0].size_bytes",
        ),
        ({"attachments": tuple(Attachment(f"{i}.txt") for i in range(21))}, "comment.attachments"),
    ],
)
def test_comment_validation_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        comment(**overrides)
    assert field in violations_of(error)


def test_comment_author_kind() -> None:
    assert comment().by_agent and not comment(author="people/p1").by_agent
