"""Merging tickets and rating them (CSAT): the domain rules."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from crm_support.domain.merging import NOTE_MAX, check_merge_request, merge
from crm_support.domain.tickets import (
    FOLLOWERS_MAX,
    LINKS_MAX,
    SATISFACTION_COMMENT_MAX,
    Channel,
    SatisfactionScore,
    Ticket,
    TicketDetails,
    TicketStatus,
)

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
AGENT = "agents/a1"
IDS = ("n1", "n2")


def ticket(
    ticket_id: str, number: int, status: TicketStatus = TicketStatus.OPEN, **fields: object
) -> Ticket:
    details = TicketDetails(**{"subject": f"Subject {number}", "requester": "people/p1", **fields})
    made = Ticket.create(ticket_id, number, details, Channel.API, NOW)
    made.status = status
    return made


def violations_of(error: pytest.ExceptionInfo[InvalidArgument]) -> dict[str, str]:
    return {v.field: v.description for v in error.value.violations}


# --- Merge ------------------------------------------------------------------------


def test_merge_closes_the_source_pointing_at_the_target() -> None:
    source = ticket("s", 1001, TicketStatus.PENDING, followers=("u1", "u2"))
    target = ticket("t", 1002, followers=("u2", "u3"), links=("opportunities/1",))
    changes = merge(source, target, AGENT, "", IDS, LATER)

    assert source.status is TicketStatus.CLOSED and source.merged_into == "tickets/t"
    assert changes.source_fields == ["status", "merged_into"]
    assert target.status is TicketStatus.OPEN and not target.merged_into
    assert target.details.followers == ("u2", "u3", "u1")
    assert changes.target_fields == ["followers"]
    for changed in (source, target):
        assert changed.version == 2 and changed.update_time == LATER


def test_merge_leaves_internal_notes_on_both_tickets() -> None:
    source = ticket("s", 1001, subject="Printer smokes")
    target = ticket("t", 1002, subject="Printer on fire")
    changes = merge(source, target, AGENT, "  Same printer, same floor.  ", IDS, LATER)

    source_note, target_note = changes.source_note, changes.target_note
    assert (source_note.id, source_note.ticket_id) == ("n1", "s")
    assert (target_note.id, target_note.ticket_id) == ("n2", "t")
    for note in (source_note, target_note):
        assert not note.public and note.author == AGENT and note.create_time == LATER
        assert note.body.endswith("\n\nSame printer, same floor.")
    assert source_note.body.startswith("Merged into #1002 (Printer on fire).")
    assert target_note.body.startswith("#1001 (Printer smokes) was merged into this ticket")
    assert "requester" not in target_note.body  # the same person asked twice


def test_a_different_requester_is_named_on_the_target_not_made_a_follower() -> None:
    source = ticket("s", 1001, requester="", requester_email="bob@example.com")
    target = ticket("t", 1002)
    changes = merge(source, target, AGENT, "", IDS, LATER)
    assert "Its requester, bob@example.com, is not this ticket's requester" in (
        changes.target_note.body
    )
    assert target.details.followers == ()

    named = ticket("s2", 1003, requester="people/p9")
    named.requester_display_name = "Bob Smith"
    changes = merge(named, ticket("t2", 1004), AGENT, "", IDS, LATER)
    assert "Its requester, Bob Smith (people/p9)," in changes.target_note.body


def test_links_join_the_target_without_duplicates() -> None:
    source = ticket("s", 1001, links=("opportunities/1", "projects/p/tasks/7"))
    target = ticket("t", 1002, links=("opportunities/1",))
    changes = merge(source, target, AGENT, "", IDS, LATER)
    assert target.details.links == ("opportunities/1", "projects/p/tasks/7")
    assert changes.target_fields == ["links"]


def test_nothing_to_take_over_changes_no_target_field() -> None:
    changes = merge(ticket("s", 1001), ticket("t", 1002), AGENT, "", IDS, LATER)
    assert changes.target_fields == []


@pytest.mark.parametrize("status", [s for s in TicketStatus if s is not TicketStatus.CLOSED])
def test_any_open_status_merges_straight_to_closed(status: TicketStatus) -> None:
    source = ticket("s", 1001, status)
    merge(source, ticket("t", 1002), AGENT, "", IDS, LATER)
    assert source.status is TicketStatus.CLOSED


@pytest.mark.parametrize(
    ("source_status", "target_status", "closed"),
    [
        (TicketStatus.CLOSED, TicketStatus.OPEN, "tickets/s"),
        (TicketStatus.OPEN, TicketStatus.CLOSED, "tickets/t"),
    ],
)
def test_closed_tickets_cannot_merge(
    source_status: TicketStatus, target_status: TicketStatus, closed: str
) -> None:
    source, target = ticket("s", 1001, source_status), ticket("t", 1002, target_status)
    with pytest.raises(FailedPrecondition, match=f"{closed} is closed"):
        merge(source, target, AGENT, "", IDS, LATER)


def test_a_merged_target_or_source_is_refused_and_nothing_changes() -> None:
    merged = ticket("m", 1000, TicketStatus.CLOSED)
    merged.merged_into = "tickets/x"
    source = ticket("s", 1001)
    with pytest.raises(FailedPrecondition, match="itself merged into tickets/x"):
        merge(source, merged, AGENT, "", IDS, LATER)
    assert source.status is TicketStatus.OPEN and source.version == 1
    with pytest.raises(FailedPrecondition, match="already merged into tickets/x"):
        merge(merged, source, AGENT, "", IDS, LATER)


def test_too_many_followers_or_links_together_are_refused_before_any_change() -> None:
    source = ticket("s", 1001, followers=tuple(f"a{i}" for i in range(FOLLOWERS_MAX)))
    target = ticket("t", 1002, followers=("b",))
    with pytest.raises(FailedPrecondition, match=f"{FOLLOWERS_MAX + 1} followers"):
        merge(source, target, AGENT, "", IDS, LATER)
    assert source.status is TicketStatus.OPEN and target.details.followers == ("b",)

    links = tuple(f"opportunities/{i}" for i in range(LINKS_MAX))
    source = ticket("s", 1001, links=links)
    with pytest.raises(FailedPrecondition, match=f"{LINKS_MAX + 1} links"):
        merge(source, ticket("t", 1002, links=("opportunities/x",)), AGENT, "", IDS, LATER)


def test_merge_request_is_checked_before_any_ticket_is_read() -> None:
    check_merge_request("s", "t", AGENT, "x" * NOTE_MAX)
    with pytest.raises(InvalidArgument) as error:
        check_merge_request("s", "s", "people/p1", "x" * (NOTE_MAX + 1))
    assert set(violations_of(error)) == {"target", "author", "note"}


# --- Rating -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [TicketStatus.SOLVED, TicketStatus.CLOSED])
def test_solved_or_closed_tickets_are_rated_with_who_was_responsible(status: TicketStatus) -> None:
    rated = ticket("t", 1000, status, assignee="agents/a1", group="groups/g1")
    rated.rate(SatisfactionScore.GOOD, "  Quick and kind.  ", LATER)
    rating = rated.satisfaction
    assert rating is not None
    assert (rating.score, rating.comment) == (SatisfactionScore.GOOD, "Quick and kind.")
    assert (rating.assignee, rating.group, rating.create_time) == ("agents/a1", "groups/g1", LATER)
    assert rated.version == 2 and rated.update_time == LATER


@pytest.mark.parametrize(
    "status", [TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD]
)
def test_unsolved_tickets_cannot_be_rated(status: TicketStatus) -> None:
    unsolved = ticket("t", 1000, status)
    with pytest.raises(FailedPrecondition, match=f"is {status.name}"):
        unsolved.rate(SatisfactionScore.BAD, "", LATER)
    assert unsolved.satisfaction is None and unsolved.version == 1


def test_a_ticket_is_rated_once_even_after_reopening() -> None:
    rated = ticket("t", 1000, TicketStatus.SOLVED)
    rated.rate(SatisfactionScore.BAD, "", LATER)
    first = rated.satisfaction
    for status in (TicketStatus.SOLVED, TicketStatus.OPEN):
        rated.status = status
        with pytest.raises(AlreadyExists):
            rated.rate(SatisfactionScore.GOOD, "Changed my mind", LATER)
    assert rated.satisfaction == first


def test_a_merged_ticket_is_not_rated() -> None:
    source = ticket("s", 1001)
    merge(source, ticket("t", 1002), AGENT, "", IDS, LATER)
    with pytest.raises(FailedPrecondition, match="merged into tickets/t"):
        source.rate(SatisfactionScore.GOOD, "", LATER)


def test_rating_comment_length_is_checked_first() -> None:
    solved = ticket("t", 1000, TicketStatus.SOLVED)
    solved.rate(SatisfactionScore.GOOD, "x" * SATISFACTION_COMMENT_MAX, LATER)
    unsolved = replace(ticket("u", 1001), satisfaction=None)
    with pytest.raises(InvalidArgument) as error:
        unsolved.rate(SatisfactionScore.GOOD, "x" * (SATISFACTION_COMMENT_MAX + 1), LATER)
    assert set(violations_of(error)) == {"satisfaction_rating.comment"}
