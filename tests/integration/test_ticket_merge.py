"""Merging tickets, and links from tickets to tasks and opportunities, on SQLite
and PostgreSQL."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from crm.events.v1.event_pb2 import Event
from crm.support.v1 import comment_pb2, events_pb2
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from tests.integration.harness import Suite, eventually, field_violations, rpc_error
from tests.integration.test_support_cli import crm
from tests.integration.test_tickets import (
    comment,
    create,
    set_status,
    ticket,
    ticket_events,
    update,
)

AGENT = "agents/merger"


def merge(
    suite: Suite, source: str, target: str, etag: str = "", note: str = "", author: str = AGENT
) -> support.MergeTicketResponse:
    request = support.MergeTicketRequest(
        name=source, target=target, etag=etag, note=note, author=author
    )
    return suite.support.MergeTicket(request)


def get(suite: Suite, name: str) -> tp.Ticket:
    return suite.support.GetTicket(support.GetTicketRequest(name=name))


def conversation(suite: Suite, name: str) -> list[comment_pb2.Comment]:
    found: list[comment_pb2.Comment] = []
    token = ""
    while True:
        page = suite.support.ListComments(
            support.ListCommentsRequest(parent=name, page_size=1000, page_token=token)
        )
        found.extend(page.comments)
        token = page.next_page_token
        if not token:
            return found


def listed(suite: Suite, filter_: str) -> list[str]:
    response = suite.support.ListTickets(support.ListTicketsRequest(filter=filter_, page_size=1000))
    return [t.name for t in response.tickets]


# --- Merge ------------------------------------------------------------------------


def test_merge_moves_the_conversation_followers_and_links_and_closes_the_source(
    suite: Suite,
) -> None:
    source = create(
        suite,
        ticket(
            subject="Printer smokes",
            followers=["u1", "u2"],
            links=["opportunities/7", "projects/p1/tasks/t1"],
        ),
    )
    target = create(
        suite, ticket(subject="Printer on fire", followers=["u2"], links=["opportunities/7"])
    )
    attachment = comment_pb2.Attachment(file_name="smoke.jpg", content_type="image/jpeg")
    asked = comment(
        suite, source.name, author=source.requester, body="Smoke!", attachments=[attachment]
    )
    answered = comment(suite, source.name, body="Unplug it, please.")
    kept = comment(suite, target.name, body="Technician on the way.")

    merged = merge(suite, source.name, target.name, note="Same printer.")

    closed, kept_target = merged.source, merged.target
    assert closed.status == tp.TICKET_STATUS_CLOSED and closed.merged_into == target.name
    assert list(kept_target.followers) == ["u2", "u1"]
    assert list(kept_target.links) == ["opportunities/7", "projects/p1/tasks/t1"]
    assert kept_target.status == target.status and not kept_target.merged_into
    assert get(suite, source.name) == closed  # stays readable, pointing at the target
    assert get(suite, target.name) == kept_target

    on_target = conversation(suite, target.name)
    moved = {c.body: c for c in on_target}
    for original in (asked, answered):
        copy = moved[original.body]
        assert copy.name == original.name.replace(source.name, target.name)
        assert (copy.author, copy.create_time, copy.public) == (
            original.author,
            original.create_time,
            original.public,
        )
        assert list(copy.attachments) == list(original.attachments)
    assert moved[kept.body] == kept
    note = on_target[-1]
    assert not note.public and note.author == AGENT
    assert note.body == (
        f"#{source.number} (Printer smokes) was merged into this ticket; "
        "its conversation is here now.\n"
        f"Its requester, {source.requester}, is not this ticket's requester and does not "
        "follow it.\n\nSame printer."
    )
    assert [c.body for c in on_target] == [asked.body, answered.body, kept.body, note.body]

    [left] = conversation(suite, source.name)
    assert not left.public and left.author == AGENT
    assert left.body == f"Merged into #{target.number} (Printer on fire).\n\nSame printer."


def test_merge_announces_both_tickets_and_the_merge(suite: Suite) -> None:
    source = create(suite)
    target = create(suite, ticket(requester=source.requester))
    set_status(suite, source.name, tp.TICKET_STATUS_OPEN)
    merged = merge(suite, source.name, target.name)
    own = {"ticket.updated", "ticket.status_changed", "ticket.comment_added", "ticket.merged"}

    def check() -> tuple[list[Event], list[Event]]:
        about_source = ticket_events(suite, source.name.removeprefix("tickets/"))
        about_target = ticket_events(suite, target.name.removeprefix("tickets/"))
        assert [e.type for e in about_source if e.type in own][-4:] == [
            "ticket.updated",
            "ticket.status_changed",
            "ticket.comment_added",
            "ticket.merged",
        ]
        # Same requester, no followers or links: only the note is new on the target.
        assert [e.type for e in about_target if e.type in own] == ["ticket.comment_added"]
        return about_source, about_target

    about_source, about_target = eventually(check)
    payloads = {e.type: e for e in about_source if e.type in own}
    updated = events_pb2.TicketUpdated()
    payloads["ticket.updated"].payload.Unpack(updated)
    assert list(updated.changed_fields)[:2] == ["status", "merged_into"]
    status_changed = events_pb2.TicketStatusChanged()
    payloads["ticket.status_changed"].payload.Unpack(status_changed)
    assert status_changed.previous_status == tp.TICKET_STATUS_OPEN
    assert status_changed.ticket.status == tp.TICKET_STATUS_CLOSED
    announced = events_pb2.TicketMerged()
    payloads["ticket.merged"].payload.Unpack(announced)
    assert announced.source == merged.source and announced.target == merged.target
    note_added = events_pb2.TicketCommentAdded()
    about_target[-1].payload.Unpack(note_added)
    assert note_added.ticket == target.name and not note_added.comment.public


def test_the_source_etag_guards_the_merge(suite: Suite) -> None:
    source, target = create(suite), create(suite)
    stale = source.etag
    comment(suite, source.name)
    error = rpc_error(lambda: merge(suite, source.name, target.name, etag=stale))
    assert error.code() == grpc.StatusCode.ABORTED
    assert not get(suite, source.name).merged_into
    current = get(suite, source.name).etag
    assert merge(suite, source.name, target.name, etag=current).source.merged_into


def test_merges_that_cannot_be_done_are_refused_and_change_nothing(suite: Suite) -> None:
    source, target, other = create(suite), create(suite), create(suite)
    closed = create(suite)
    for status in (tp.TICKET_STATUS_SOLVED, tp.TICKET_STATUS_CLOSED):
        set_status(suite, closed.name, status)
    merge(suite, other.name, target.name)  # `other` is merged away now
    missing = "tickets/does-not-exist"
    cases = [
        (source.name, missing, grpc.StatusCode.NOT_FOUND),
        (missing, target.name, grpc.StatusCode.NOT_FOUND),
        (closed.name, target.name, grpc.StatusCode.FAILED_PRECONDITION),
        (source.name, closed.name, grpc.StatusCode.FAILED_PRECONDITION),
        (source.name, other.name, grpc.StatusCode.FAILED_PRECONDITION),
        (other.name, source.name, grpc.StatusCode.FAILED_PRECONDITION),
    ]
    before = {t.name: get(suite, t.name) for t in (source, target, other, closed)}
    for from_, to, code in cases:
        error = rpc_error(lambda from_=from_, to=to: merge(suite, from_, to))
        assert error.code() == code, (from_, to, error.details())
    assert (
        "was itself merged into"
        in rpc_error(lambda: merge(suite, source.name, other.name)).details()
    )
    assert {name: get(suite, name) for name in before} == before
    assert [c.body for c in conversation(suite, source.name)] == []


BAD_MERGES = [
    (support.MergeTicketRequest(target="tickets/t", author=AGENT), "name"),
    (support.MergeTicketRequest(name="tickets/s", target="t", author=AGENT), "target"),
    (support.MergeTicketRequest(name="tickets/s", target="tickets/s", author=AGENT), "target"),
    (support.MergeTicketRequest(name="tickets/s", target="tickets/t"), "author"),
    (
        support.MergeTicketRequest(name="tickets/s", target="tickets/t", author="people/p1"),
        "author",
    ),
    (
        support.MergeTicketRequest(
            name="tickets/s", target="tickets/t", author=AGENT, note="x" * 10_001
        ),
        "note",
    ),
]


@pytest.mark.parametrize(("request_", "field"), BAD_MERGES)
def test_bad_merge_requests_name_the_field(
    suite: Suite, request_: support.MergeTicketRequest, field: str
) -> None:
    error = rpc_error(lambda: suite.support.MergeTicket(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)


def test_a_ticket_merged_into_itself_is_refused_even_when_it_exists(suite: Suite) -> None:
    name = create(suite).name
    error = rpc_error(lambda: merge(suite, name, name))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "target" in field_violations(error)


def test_concurrent_merges_into_one_target_keep_every_comment(suite: Suite) -> None:
    target = create(suite)
    sources = [create(suite, ticket(followers=[f"u{i}"])) for i in range(6)]
    bodies = {
        s.name: [comment(suite, s.name, body=f"{s.name} #{n}").body for n in range(3)]
        for s in sources
    }

    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        results = list(pool.map(lambda s: merge(suite, s.name, target.name), sources))

    assert all(r.source.merged_into == target.name for r in results)
    on_target = {c.body for c in conversation(suite, target.name)}
    assert all(set(written) <= on_target for written in bodies.values())
    assert sorted(get(suite, target.name).followers) == sorted(f"u{i}" for i in range(6))


def test_opposite_merges_at_once_end_with_one_merge_and_no_deadlock(suite: Suite) -> None:
    pairs = [(create(suite), create(suite)) for _ in range(4)]
    calls = [(a.name, b.name) for a, b in pairs] + [(b.name, a.name) for a, b in pairs]

    def attempt(call: tuple[str, str]) -> grpc.StatusCode:
        try:
            merge(suite, *call)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        codes = dict(zip(calls, pool.map(attempt, calls), strict=True))
    for a, b in pairs:
        outcome = sorted((codes[(a.name, b.name)], codes[(b.name, a.name)]), key=str)
        assert outcome == sorted((grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION), key=str)
        merged = [t for t in (get(suite, a.name), get(suite, b.name)) if t.merged_into]
        assert len(merged) == 1


def test_comments_racing_a_merge_are_moved_or_refused_never_lost(suite: Suite) -> None:
    source, target = create(suite), create(suite)

    def write(n: int) -> str | None:
        try:
            return comment(suite, source.name, body=f"race {n}").body
        except grpc.RpcError as error:
            assert error.code() in (
                grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.ABORTED,
            ), error.details()
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = [pool.submit(write, n) for n in range(30)]
        merging = pool.submit(merge, suite, source.name, target.name)
        written = {f.result() for f in writes} - {None}
        merging.result()

    on_target = {c.body for c in conversation(suite, target.name)}
    assert written <= on_target
    assert [c.body.startswith("Merged into") for c in conversation(suite, source.name)] == [True]


def test_crm_support_show_tells_where_a_merged_ticket_went(suite: Suite) -> None:
    source = create(suite, ticket(links=["opportunities/42"]))
    target = create(suite)
    merge(suite, source.name, target.name)
    shown = crm(suite, "show", str(source.number))
    assert shown.returncode == 0, shown.stderr
    assert f"Merged into: {target.name}" in shown.stdout
    assert "Links:" in shown.stdout and "opportunities/42" in shown.stdout
    assert f"Merged into #{target.number}" in shown.stdout


# --- Links ------------------------------------------------------------------------


def test_links_are_updated_with_a_mask_and_filtered(suite: Suite) -> None:
    opportunity = f"opportunities/{uuid.uuid4().hex}"
    task = f"projects/p{uuid.uuid4().hex[:6]}/tasks/t1"
    tag = f"links{uuid.uuid4().hex[:8]}"
    linked, other = create(suite, ticket(tags=[tag])), create(suite, ticket(tags=[tag]))

    changed = update(
        suite,
        tp.Ticket(name=linked.name, links=[opportunity, task, opportunity], etag=linked.etag),
        "links",
    )
    assert list(changed.links) == [opportunity, task]
    assert get(suite, linked.name).links == changed.links
    update(suite, tp.Ticket(name=other.name, links=["opportunities/42"]), "links")

    assert listed(suite, f'links:"{opportunity}"') == [linked.name]
    assert listed(suite, f'links:"{task}" AND tags:"{tag}"') == [linked.name]
    assert set(listed(suite, f'tags:"{tag}" AND links:*')) == {linked.name, other.name}
    assert other.name in listed(suite, 'links:"opportunities/42"')
    assert listed(suite, f'tags:"{tag}" AND NOT links:"{opportunity}"') == [other.name]

    cleared = update(suite, tp.Ticket(name=linked.name), "links")
    assert list(cleared.links) == []
    assert listed(suite, f'links:"{opportunity}"') == []


def test_bad_links_are_refused_by_position(suite: Suite) -> None:
    name = create(suite).name
    for links, field in (
        (["tasks/1"], "ticket.links[0]"),
        (["opportunities/1", "opportunities/"], "ticket.links[1]"),
        (["projects/p/tasks/t/extra"], "ticket.links[0]"),
    ):
        error = rpc_error(
            lambda links=links: update(suite, tp.Ticket(name=name, links=links), "links")
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error), field_violations(error)
    too_many = [f"opportunities/{n}" for n in range(51)]
    error = rpc_error(lambda: update(suite, tp.Ticket(name=name, links=too_many), "links"))
    assert "ticket.links" in field_violations(error)
    created = rpc_error(lambda: create(suite, ticket(links=["nope"])))
    assert "ticket.links[0]" in field_violations(created)
