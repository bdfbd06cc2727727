"""`crm support ...`: an agent's helpdesk work from the terminal.

`crm support create` opens a ticket (a phone call, a walk-in); `queue`
lists the open tickets, most urgent first; `show N` prints ticket #N with its
conversation; `reply N TEXT` and `note N TEXT` add a public reply or an
internal note; `solve N` marks it solved; `assign N AGENT` gives it to an
agent, and `assign N --group G` lets the group pick one; `rate N good|bad`
records the requester's satisfaction with a solved ticket.

All talk to the support service at $CRM_SUPPORT_TARGET (127.0.0.1:50054) as
the agent given by --agent or $CRM_AGENT (agents/me); the suite has no
authentication yet, so the identity is taken on trust.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2

from crm.support.v1 import agent_service_pb2, comment_pb2, ticket_pb2
from crm.support.v1 import support_service_pb2 as pb
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub
from crm_cli.arguments import enum_names, enum_value, limit, resource
from crm_cli.rpc import CommandError, connected_stub, describe_rpc_error
from crm_cli.tables import enum_label, format_table, shorten

TARGET_ENV = "CRM_SUPPORT_TARGET"
DEFAULT_TARGET = "127.0.0.1:50054"
AGENT_ENV = "CRM_AGENT"
DEFAULT_AGENT = "agents/me"
SUBJECT_WIDTH = 50
REQUESTER_WIDTH = 30
# The nearest SLA due time first, as agents work the queue; then urgency and age.
QUEUE_ORDER = "sla_due_time, priority desc, create_time"
OPEN_STATUSES = ("NEW", "OPEN", "PENDING", "ON_HOLD")


STATUS_NAMES = tuple(enum_names(ticket_pb2.TicketStatus, "TICKET_STATUS_"))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    support = subparsers.add_parser(
        "support",
        help="work the helpdesk: create, queue, show, reply, note, assign, solve, rate",
        description=(
            f"An agent's helpdesk commands, with the support service at ${TARGET_ENV} "
            f"(default {DEFAULT_TARGET}). The agent is --agent or ${AGENT_ENV} "
            f"(default {DEFAULT_AGENT}); there is no authentication yet."
        ),
    )
    commands = support.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create = commands.add_parser(
        "create",
        help="open a ticket for a requester",
        description="Opens a ticket for the requester at --email; the contacts service makes "
        "the address a person if it is new. Prints the ticket's number.",
    )
    create.add_argument("subject", metavar="SUBJECT", help="what the ticket is about")
    create.add_argument("--email", required=True, help="the requester's email address")
    create.add_argument("--name", default="", help="the requester's name, for a new contact")
    create.add_argument(
        "--description", default="", help="the requester's words, or - to read them from stdin"
    )
    for option, enum, prefix, default in (
        ("--priority", ticket_pb2.TicketPriority, "TICKET_PRIORITY_", "normal"),
        ("--type", ticket_pb2.TicketType, "TICKET_TYPE_", "question"),
        ("--channel", ticket_pb2.TicketChannel, "TICKET_CHANNEL_", "phone"),
    ):
        names = enum_names(enum, prefix)
        create.add_argument(
            option,
            type=enum_value(enum, prefix),
            default=enum.Value(prefix + default.upper()),
            metavar="|".join(name.lower() for name in names),
            help=f"(default {default})",
        )
    create.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="a tag (repeatable)"
    )
    create.add_argument(
        "--group",
        type=resource("groups/"),
        help="groups/ID or ID: the group to open it in (an agent in one group: theirs)",
    )
    create.set_defaults(func=create_command)

    queue = commands.add_parser(
        "queue",
        help="the tickets still to work, most urgent first",
        description=f"Lists tickets by status, ordered by `{QUEUE_ORDER}`.",
    )
    queue.add_argument(
        "--status",
        type=statuses,
        default=OPEN_STATUSES,
        metavar="S,S,...",
        help=f"statuses to list, from {', '.join(s.lower() for s in STATUS_NAMES)} "
        f"(default {','.join(s.lower() for s in OPEN_STATUSES)})",
    )
    queue.add_argument(
        "--limit", type=limit, default=50, help="at most this many tickets, 1-1000 (default 50)"
    )
    queue.set_defaults(func=queue_command)

    show = commands.add_parser(
        "show", help="a ticket and its conversation", description="Prints ticket #N in full."
    )
    _number_argument(show)
    show.set_defaults(func=show_command)

    for name, public, what in (
        ("reply", True, "a public reply the requester sees"),
        ("note", False, "an internal note only agents see"),
    ):
        comment = commands.add_parser(name, help=f"add {what}", description=f"Adds {what}.")
        _number_argument(comment)
        comment.add_argument("text", metavar="TEXT", help="the text, or - to read it from stdin")
        _agent_argument(comment)
        comment.set_defaults(func=comment_command, public=public)

    solve = commands.add_parser(
        "solve",
        help="mark a ticket solved",
        description="Sets ticket #N's status to SOLVED; the service refuses it for a "
        "closed ticket.",
    )
    _number_argument(solve)
    solve.set_defaults(func=solve_command)

    assign = commands.add_parser(
        "assign",
        help="give a ticket to an agent, or let a group pick one",
        description="Assigns ticket #N to AGENT, who must be a member of the ticket's group "
        "(or of --group, where the ticket then moves); a ticket without a group joins the "
        "agent's first group. With --group and no AGENT, the group's round-robin or "
        "least-loaded strategy picks a member who is online, has room and every required "
        "skill (the ticket's skill:NAME tags and --skill); if nobody qualifies the ticket "
        "waits in the group.",
    )
    _number_argument(assign)
    assign.add_argument(
        "agent", metavar="AGENT", nargs="?", type=resource("agents/"), help="agents/ID or ID"
    )
    assign.add_argument(
        "--group",
        type=resource("groups/"),
        help="groups/ID or ID: with AGENT the group to move the ticket to, alone the group "
        "whose strategy picks",
    )
    assign.add_argument(
        "--skill",
        action="append",
        default=[],
        metavar="SKILL",
        help="a skill the picked agent must have (repeatable; only without AGENT)",
    )
    assign.set_defaults(func=assign_command)

    rate = commands.add_parser(
        "rate",
        help="record the requester's satisfaction with a solved ticket",
        description="Records the requester's rating of solved (or closed) ticket #N, as they "
        "gave it by phone or mail; a ticket is rated once. The rating credits the ticket's "
        "assignee and group.",
    )
    _number_argument(rate)
    rate.add_argument("score", choices=("good", "bad"), help="how the requester felt")
    rate.add_argument("comment", nargs="?", default="", help="the requester's words, optional")
    rate.set_defaults(func=rate_command)


def _number_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", type=ticket_number, metavar="N", help="the ticket's number")


def _agent_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--agent",
        default=os.environ.get(AGENT_ENV, DEFAULT_AGENT),
        help=f"who writes it, agents/ID (default ${AGENT_ENV} or {DEFAULT_AGENT})",
    )


def statuses(text: str) -> tuple[str, ...]:
    names = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in STATUS_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"not a status list: {text!r}; use {', '.join(s.lower() for s in STATUS_NAMES)}"
        )
    return names


def ticket_number(text: str) -> int:
    value = int(text.lstrip("#")) if text.lstrip("#").isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a ticket number: {text!r}")
    return value


# --- Commands --------------------------------------------------------------------------


def create_command(args: argparse.Namespace) -> int:
    description = sys.stdin.read() if args.description == "-" else args.description
    ticket = ticket_pb2.Ticket(
        subject=args.subject,
        description=description,
        requester_email=args.email,
        priority=args.priority,
        type=args.type,
        channel=args.channel,
        tags=args.tag,
        group=args.group or "",
    )
    request = pb.CreateTicketRequest(ticket=ticket, requester_name=args.name)
    try:
        with _stub() as stub:
            created = stub.CreateTicket(request)
    except CommandError as error:
        return _fail(error)
    print(f"Created ticket #{created.number} ({created.name}) for {requester(created)}.")
    return 0


def queue_command(args: argparse.Namespace) -> int:
    query = " OR ".join(f"status = {status}" for status in args.status)
    request = pb.ListTicketsRequest(page_size=args.limit, filter=query, order_by=QUEUE_ORDER)
    try:
        with _stub() as stub:
            tickets = list(stub.ListTickets(request).tickets)
    except CommandError as error:
        return _fail(error)
    if not tickets:
        print(f"No tickets with status {', '.join(args.status)}.")
        return 0
    print(queue_table(tickets))
    return 0


def show_command(args: argparse.Namespace) -> int:
    try:
        with _stub() as stub:
            ticket = find_ticket(stub, args.number)
            comments = list(list_comments(stub, ticket.name))
    except CommandError as error:
        return _fail(error)
    print(ticket_text(ticket, comments))
    return 0


def comment_command(args: argparse.Namespace) -> int:
    body = sys.stdin.read() if args.text == "-" else args.text
    if not body.strip():
        return _fail(CommandError("the text is empty"))
    comment = comment_pb2.Comment(body=body, public=args.public, author=args.agent)
    try:
        with _stub() as stub:
            ticket = find_ticket(stub, args.number)
            stub.CreateComment(pb.CreateCommentRequest(parent=ticket.name, comment=comment))
    except CommandError as error:
        return _fail(error)
    what = "Replied to" if args.public else "Added an internal note to"
    print(f"{what} ticket #{args.number}.")
    return 0


def solve_command(args: argparse.Namespace) -> int:
    try:
        with _stub() as stub:
            ticket = find_ticket(stub, args.number)
            was = _status(ticket.status)
            change = ticket_pb2.Ticket(
                name=ticket.name, status=ticket_pb2.TICKET_STATUS_SOLVED, etag=ticket.etag
            )
            mask = field_mask_pb2.FieldMask(paths=["status"])
            stub.UpdateTicket(pb.UpdateTicketRequest(ticket=change, update_mask=mask))
    except CommandError as error:
        return _fail(error)
    if was == "SOLVED":
        print(f"Ticket #{args.number} was already solved.")
    else:
        print(f"Solved ticket #{args.number} (was {was}).")
    return 0


def assign_command(args: argparse.Namespace) -> int:
    if not (args.agent or args.group):
        return _fail(CommandError("name an AGENT, or a --group whose strategy picks one"))
    if args.agent and args.skill:
        return _fail(CommandError("--skill applies only when the group picks (no AGENT)"))
    request = agent_service_pb2.AssignTicketRequest(
        agent=args.agent or "",
        group=args.group or "",
        auto=not args.agent,
        required_skills=args.skill,
    )
    try:
        with _stubs() as (tickets, agents):
            ticket = find_ticket(tickets, args.number)
            request.ticket, request.etag = ticket.name, ticket.etag
            assigned = agents.AssignTicket(request)
            text = assignment_text(
                assigned, _label(agents, assigned.assignee), _label(agents, assigned.group)
            )
    except CommandError as error:
        return _fail(error)
    if assigned.etag == ticket.etag:
        text = f"Nothing changed: {text[0].lower()}{text[1:]}"
    print(text)
    return 0


def rate_command(args: argparse.Namespace) -> int:
    score = ticket_pb2.SatisfactionScore.Value(f"SATISFACTION_SCORE_{args.score.upper()}")
    rating = ticket_pb2.SatisfactionRating(score=score, comment=args.comment)
    try:
        with _stub() as stub:
            ticket = find_ticket(stub, args.number)
            rated = stub.RateTicket(
                pb.RateTicketRequest(name=ticket.name, satisfaction_rating=rating)
            )
    except CommandError as error:
        return _fail(error)
    print(f"Rated ticket #{args.number}: {_satisfaction(rated)}.")
    return 0


# --- Lookups and output ----------------------------------------------------------------


def find_ticket(stub: SupportServiceStub, number: int) -> ticket_pb2.Ticket:
    found = stub.ListTickets(pb.ListTicketsRequest(page_size=1, filter=f"number = {number}"))
    if not found.tickets:
        raise CommandError(f"no ticket #{number}")
    return found.tickets[0]


def list_comments(stub: SupportServiceStub, ticket_name: str) -> Iterator[comment_pb2.Comment]:
    token = ""
    while True:
        page = stub.ListComments(
            pb.ListCommentsRequest(parent=ticket_name, page_size=1000, page_token=token)
        )
        yield from page.comments
        token = page.next_page_token
        if not token:
            return


def queue_table(tickets: Sequence[ticket_pb2.Ticket]) -> str:
    rows = [("NUMBER", "STATUS", "PRIORITY", "SUBJECT", "REQUESTER", "UPDATED")]
    rows += [
        (
            f"#{t.number}",
            _status(t.status),
            _priority(t.priority),
            shorten(t.subject, SUBJECT_WIDTH),
            shorten(requester(t), REQUESTER_WIDTH),
            _time(t.update_time),
        )
        for t in tickets
    ]
    return format_table(rows)


def assignment_text(ticket: ticket_pb2.Ticket, agent: str, group: str) -> str:
    """Who has ticket #N now, in a sentence; `agent` and `group` as labelled."""
    if ticket.assignee:
        return f"Ticket #{ticket.number} is assigned to {agent}" + (
            f" in {group}." if group else "."
        )
    if ticket.group:
        return (
            f"Ticket #{ticket.number} waits unassigned in {group}: no member is online "
            "with room for it and every required skill."
        )
    return f"Ticket #{ticket.number} is unassigned."


def _label(agents: AgentServiceStub, name: str) -> str:
    """`Display Name (agents/ID)`, or just the name if it cannot be looked up."""
    if not name:
        return ""
    try:
        if name.startswith("agents/"):
            found = agents.GetAgent(agent_service_pb2.GetAgentRequest(name=name)).display_name
        else:
            found = agents.GetGroup(agent_service_pb2.GetGroupRequest(name=name)).display_name
    except grpc.RpcError:
        return name
    return f"{found} ({name})"


def requester(ticket: ticket_pb2.Ticket) -> str:
    return ticket.requester_display_name or ticket.requester_email or ticket.requester or "-"


def ticket_text(ticket: ticket_pb2.Ticket, comments: Sequence[comment_pb2.Comment]) -> str:
    fields = [
        ("Status", _status(ticket.status)),
        ("Priority", _priority(ticket.priority)),
        ("Type", enum_label(ticket_pb2.TicketType, ticket.type, "TICKET_TYPE_")),
        ("Channel", enum_label(ticket_pb2.TicketChannel, ticket.channel, "TICKET_CHANNEL_")),
        ("Requester", _requester_line(ticket)),
        ("Assignee", ticket.assignee),
        ("Group", ticket.group),
        ("Organization", ticket.organization),
        ("Tags", ", ".join(ticket.tags)),
        ("Followers", ", ".join(ticket.followers)),
        ("Created", _time(ticket.create_time)),
        ("Updated", _time(ticket.update_time)),
        ("First response", _time(ticket.first_response_time, "")),
        ("Solved", _time(ticket.solve_time, "")),
        ("Merged into", ticket.merged_into),
        ("Links", ", ".join(ticket.links)),
        ("Satisfaction", _satisfaction(ticket)),
        ("Name", ticket.name),
        *((f"custom.{key}", value) for key, value in sorted(ticket.custom_fields.items())),
    ]
    shown = [(label, value) for label, value in fields if value]
    width = max(len(label) for label, _ in shown) + 1
    lines = [f"Ticket #{ticket.number}: {ticket.subject}", ""]
    lines += [f"{label + ':':<{width}} {value}" for label, value in shown]
    if ticket.description.strip():
        lines += ["", "Description:", *_indented(ticket.description)]
    if ticket.satisfaction_rating.comment:
        lines += ["", "Satisfaction comment:", *_indented(ticket.satisfaction_rating.comment)]
    lines += ["", f"Conversation ({len(comments)}):" if comments else "Conversation: none yet"]
    for comment in comments:
        mark = "PUBLIC REPLY" if comment.public else "INTERNAL NOTE"
        lines += ["", f"[{mark}] {comment.author}, {_time(comment.create_time)}"]
        lines += _indented(comment.body)
        lines += [f"    (attached: {a.file_name})" for a in comment.attachments]
    return "\n".join(lines)


def _satisfaction(ticket: ticket_pb2.Ticket) -> str:
    """The rating, with whom it credits; empty until the requester rated."""
    if not ticket.HasField("satisfaction_rating"):
        return ""
    rating = ticket.satisfaction_rating
    credited = ", ".join(who for who in (rating.assignee, rating.group) if who)
    score = enum_label(ticket_pb2.SatisfactionScore, rating.score, "SATISFACTION_SCORE_")
    return f"{score}, {_time(rating.create_time)}" + (f" ({credited})" if credited else "")


def _requester_line(ticket: ticket_pb2.Ticket) -> str:
    name, email = ticket.requester_display_name, ticket.requester_email
    text = f"{name} <{email}>" if name and email else name or email
    if ticket.requester:
        text = f"{text} ({ticket.requester})" if text else ticket.requester
    return text


def _indented(text: str) -> list[str]:
    return [f"    {line}".rstrip() for line in text.splitlines()] or ["    "]


def _status(value: int) -> str:
    return enum_label(ticket_pb2.TicketStatus, value, "TICKET_STATUS_")


def _priority(value: int) -> str:
    return enum_label(ticket_pb2.TicketPriority, value, "TICKET_PRIORITY_")


def _time(value: timestamp_pb2.Timestamp, empty: str = "-") -> str:
    if not value.seconds and not value.nanos:
        return empty
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M UTC")


def _fail(error: CommandError) -> int:
    print(f"crm support: {error}", file=sys.stderr)
    return 1


@contextmanager
def _stub() -> Iterator[SupportServiceStub]:
    with connected_stub(
        SupportServiceStub, "support", TARGET_ENV, DEFAULT_TARGET, describe_rpc_error
    ) as stub:
        yield stub


@contextmanager
def _stubs() -> Iterator[tuple[SupportServiceStub, AgentServiceStub]]:
    """Tickets and agents, on one connection."""
    with connected_stub(
        lambda channel: (SupportServiceStub(channel), AgentServiceStub(channel)),
        "support",
        TARGET_ENV,
        DEFAULT_TARGET,
        describe_rpc_error,
    ) as stubs:
        yield stubs
