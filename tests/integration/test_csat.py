"""Satisfaction ratings (CSAT) through the support service, on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from crm.support.v1 import agent_service_pb2 as agent_pb
from crm.support.v1 import events_pb2
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from tests.integration.harness import Suite, eventually, field_violations, rpc_error
from tests.integration.test_agents import new_agent, new_group
from tests.integration.test_support_cli import crm
from tests.integration.test_ticket_merge import get, merge
from tests.integration.test_tickets import create, set_status, ticket, ticket_events, update

GOOD, BAD = tp.SATISFACTION_SCORE_GOOD, tp.SATISFACTION_SCORE_BAD


def rate(suite: Suite, name: str, score: int = GOOD, comment: str = "") -> tp.Ticket:
    rating = tp.SatisfactionRating(score=score, comment=comment)
    return suite.support.RateTicket(
        support.RateTicketRequest(name=name, satisfaction_rating=rating)
    )


def solved(suite: Suite, **fields: object) -> tp.Ticket:
    name = create(suite, ticket(**fields)).name
    return set_status(suite, name, tp.TICKET_STATUS_SOLVED)


def an_agent_in_a_group(suite: Suite) -> tuple[str, str]:
    agents = suite.stub("support", AgentServiceStub)
    group = new_group(agents)
    return new_agent(agents, group).name, group.name


def test_a_solved_ticket_is_rated_with_who_was_responsible(suite: Suite) -> None:
    agent, group = an_agent_in_a_group(suite)
    done = solved(suite, assignee=agent, group=group)
    rated = rate(suite, done.name, BAD, "  Took three days.  ")

    rating = rated.satisfaction_rating
    assert (rating.score, rating.comment) == (BAD, "Took three days.")
    assert (rating.assignee, rating.group) == (agent, group)
    assert rating.create_time == rated.update_time and rated.etag != done.etag
    assert get(suite, done.name) == rated

    # Reassigning later does not move the credit (or the blame).
    agents = suite.stub("support", AgentServiceStub)
    colleague = new_agent(agents, agents.GetGroup(agent_pb.GetGroupRequest(name=group))).name
    update(suite, tp.Ticket(name=done.name, assignee=colleague), "assignee")
    assert get(suite, done.name).satisfaction_rating == rating


def test_closed_tickets_can_be_rated_too(suite: Suite) -> None:
    name = solved(suite).name
    set_status(suite, name, tp.TICKET_STATUS_CLOSED)
    rated = rate(suite, name)
    assert rated.satisfaction_rating.score == GOOD and not rated.satisfaction_rating.comment
    assert rated.status == tp.TICKET_STATUS_CLOSED


def test_the_rating_is_announced_as_an_update(suite: Suite) -> None:
    name = solved(suite).name
    rated = rate(suite, name, GOOD, "Thanks!")

    def check() -> events_pb2.TicketUpdated:
        events = ticket_events(suite, name.removeprefix("tickets/"))
        # Other updates may interleave (the requester's address becoming a
        # contact re-points the ticket); exactly one announces the rating.
        updates = []
        for event in (e for e in events if e.type == "ticket.updated"):
            updated = events_pb2.TicketUpdated()
            event.payload.Unpack(updated)
            if "satisfaction_rating" in updated.changed_fields:
                updates.append(updated)
        assert len(updates) == 1, updates
        (rating_update,) = updates
        assert list(rating_update.changed_fields) == ["satisfaction_rating"]
        return rating_update

    assert eventually(check).ticket.satisfaction_rating == rated.satisfaction_rating


@pytest.mark.parametrize(
    "status",
    [
        tp.TICKET_STATUS_NEW,
        tp.TICKET_STATUS_OPEN,
        tp.TICKET_STATUS_PENDING,
        tp.TICKET_STATUS_ON_HOLD,
    ],
)
def test_unsolved_tickets_cannot_be_rated(suite: Suite, status: int) -> None:
    name = create(suite).name
    if status != tp.TICKET_STATUS_NEW:
        set_status(suite, name, status)
    error = rpc_error(lambda: rate(suite, name))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert not get(suite, name).HasField("satisfaction_rating")


def test_a_ticket_is_rated_at_most_once(suite: Suite) -> None:
    name = solved(suite).name
    first = rate(suite, name, GOOD, "Great")
    again = rpc_error(lambda: rate(suite, name, BAD, "Changed my mind"))
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS
    # Reopened and solved again, it keeps its first rating.
    set_status(suite, name, tp.TICKET_STATUS_OPEN)
    set_status(suite, name, tp.TICKET_STATUS_SOLVED)
    assert rpc_error(lambda: rate(suite, name)).code() == grpc.StatusCode.ALREADY_EXISTS
    assert get(suite, name).satisfaction_rating == first.satisfaction_rating


def test_concurrent_ratings_exactly_one_wins(suite: Suite) -> None:
    names = [solved(suite).name for _ in range(3)]
    attempts = [(name, score) for name in names for score in (GOOD, BAD) * 4]

    def attempt(call: tuple[str, int]) -> grpc.StatusCode:
        try:
            rate(suite, call[0], call[1], f"score {call[1]}")
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        codes = list(pool.map(attempt, attempts))

    for name in names:
        outcomes = [code for (n, _), code in zip(attempts, codes, strict=True) if n == name]
        assert outcomes.count(grpc.StatusCode.OK) == 1, outcomes
        assert outcomes.count(grpc.StatusCode.ALREADY_EXISTS) == len(outcomes) - 1, outcomes
        winner = next(
            score
            for (n, score), code in zip(attempts, codes, strict=True)
            if n == name and code == grpc.StatusCode.OK
        )
        rating = get(suite, name).satisfaction_rating
        assert (rating.score, rating.comment) == (winner, f"score {winner}")


def test_unknown_and_merged_tickets(suite: Suite) -> None:
    missing = rpc_error(lambda: rate(suite, "tickets/does-not-exist"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    source, target = create(suite), create(suite)
    merge(suite, source.name, target.name)
    merged = rpc_error(lambda: rate(suite, source.name))
    assert merged.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert target.name in merged.details()


BAD_RATINGS = [
    (support.RateTicketRequest(name="tickets/"), "name"),
    (
        support.RateTicketRequest(
            name="nope", satisfaction_rating=tp.SatisfactionRating(score=GOOD)
        ),
        "name",
    ),
    (support.RateTicketRequest(name="tickets/t"), "satisfaction_rating"),
    (
        support.RateTicketRequest(name="tickets/t", satisfaction_rating=tp.SatisfactionRating()),
        "satisfaction_rating.score",
    ),
    (
        support.RateTicketRequest(
            name="tickets/t", satisfaction_rating=tp.SatisfactionRating(score=7)
        ),
        "satisfaction_rating.score",
    ),
]


@pytest.mark.parametrize(("request_", "field"), BAD_RATINGS)
def test_bad_rating_requests_name_the_field(
    suite: Suite, request_: support.RateTicketRequest, field: str
) -> None:
    error = rpc_error(lambda: suite.support.RateTicket(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)


def test_a_rating_comment_is_at_most_ten_thousand_characters(suite: Suite) -> None:
    name = solved(suite).name
    error = rpc_error(lambda: rate(suite, name, GOOD, "x" * 10_001))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "satisfaction_rating.comment" in field_violations(error)
    assert rate(suite, name, GOOD, "x" * 10_000).satisfaction_rating.comment == "x" * 10_000


def test_crm_support_show_prints_the_rating(suite: Suite) -> None:
    agent, _ = an_agent_in_a_group(suite)
    done = solved(suite, assignee=agent)
    rate(suite, done.name, BAD, "Nobody called back.")
    shown = crm(suite, "show", str(done.number))
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("Satisfaction:"))
    assert "BAD" in line and agent in line
    assert "Satisfaction comment:\n    Nobody called back." in shown.stdout
