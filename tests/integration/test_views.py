"""Saved views, their live counts and the agent queue, on SQLite and PostgreSQL.

The suite's database is shared by the module's tests, so each test works
with an agent and a tag of its own and only looks at its own tickets.
"""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.support.v1 import agent_pb2
from crm.support.v1 import agent_service_pb2 as agents_pb
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm.support.v1 import view_service_pb2 as pb
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm.support.v1.view_service_pb2_grpc import ViewServiceStub
from crm_common.auth.principal import Principal
from crm_common.auth.roles import SUPPORT_SUPERVISOR
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from crm_common.storage.migrations import upgrade_to_head
from crm_support.domain.agents import Agent, AgentDetails
from crm_support.domain.sla_state import SlaMetric, SlaTarget
from crm_support.domain.tickets import Channel, Priority, Ticket, TicketDetails, TicketStatus
from crm_support.domain.views import ViewDetails
from crm_support.handlers import views as handlers
from crm_support.main import SPEC
from crm_support.storage.agents import AgentRepository
from crm_support.storage.tickets import TicketRepository
from tests.integration.harness import Databases, Suite, field_violations, rpc_error

# Handlers called directly act for a caller: one who sees every ticket.
SUPERVISOR = Principal("sue", frozenset({SUPPORT_SUPERVISOR}))
BUILT_IN = ["views/my-open", "views/breaching-soon", "views/unassigned-urgent", "views/unsolved"]


@pytest.fixture(scope="module")
def views(suite: Suite) -> ViewServiceStub:
    return suite.stub("support", ViewServiceStub)


def new_agent(suite: Suite, *groups: str) -> str:
    """A registered agent in `groups`; tickets can only be assigned to those."""
    agent_id = f"a-{uuid.uuid4().hex[:10]}"
    agent = agent_pb2.Agent(
        display_name=agent_id, email=f"{agent_id}@helpdesk.example", groups=groups
    )
    stub = suite.stub("support", AgentServiceStub)
    return stub.CreateAgent(agents_pb.CreateAgentRequest(agent=agent, agent_id=agent_id)).name


def new_group(suite: Suite) -> str:
    group = agent_pb2.Group(display_name=f"g-{uuid.uuid4().hex[:10]}")
    stub = suite.stub("support", AgentServiceStub)
    return stub.CreateGroup(agents_pb.CreateGroupRequest(group=group)).name


class Desk:
    """One test's agent (in a group of its own) and the tickets it creates, all tagged alike."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.tag = f"t-{uuid.uuid4().hex[:10]}"
        self.group = new_group(suite)
        self.agent = new_agent(suite, self.group)
        self.labels: dict[str, str] = {}  # tickets/{id} -> label

    def ticket(self, label: str, **fields: object) -> tp.Ticket:
        message = tp.Ticket(
            subject=label, requester=f"people/{uuid.uuid4().hex}", tags=[self.tag], **fields
        )
        created = self.suite.support.CreateTicket(support.CreateTicketRequest(ticket=message))
        self.labels[created.name] = label
        return created

    def update(self, ticket: tp.Ticket, *paths: str) -> tp.Ticket:
        request = support.UpdateTicketRequest(ticket=ticket, update_mask=FieldMask(paths=paths))
        return self.suite.support.UpdateTicket(request)

    def set_status(self, name: str, status: int) -> tp.Ticket:
        return self.update(tp.Ticket(name=name, status=status), "status")

    def mine(self, tickets: list[tp.Ticket]) -> list[str]:
        return [self.labels[t.name] for t in tickets if t.name in self.labels]


def create_view(views: ViewServiceStub, view_id: str = "", **fields: object) -> pb.View:
    fields.setdefault("display_name", "A view")
    return views.CreateView(pb.CreateViewRequest(view=pb.View(**fields), view_id=view_id))


def update_view(views: ViewServiceStub, view: pb.View, *paths: str) -> pb.View:
    return views.UpdateView(pb.UpdateViewRequest(view=view, update_mask=FieldMask(paths=paths)))


def pages(
    call: object, request: pb.ListViewTicketsRequest | pb.ListQueueTicketsRequest
) -> Iterator[pb.ListViewTicketsResponse]:
    while True:
        response = call(request)  # type: ignore[operator]
        yield response
        if not response.next_page_token:
            return
        request.page_token = response.next_page_token


def all_view_tickets(views: ViewServiceStub, view: str, agent: str = "") -> list[tp.Ticket]:
    request = pb.ListViewTicketsRequest(view=view, agent=agent, page_size=2)
    found = [t for page in pages(views.ListViewTickets, request) for t in page.tickets]
    assert len({t.name for t in found}) == len(found), "a ticket came twice"
    return found


def queue(views: ViewServiceStub, agent: str) -> list[tp.Ticket]:
    request = pb.ListQueueTicketsRequest(agent=agent, page_size=3)
    found = [t for page in pages(views.ListQueueTickets, request) for t in page.tickets]
    assert len({t.name for t in found}) == len(found), "a ticket came twice"
    return found


def counts(views: ViewServiceStub, names: list[str], agent: str = "") -> list[int]:
    response = views.BatchCountViewTickets(
        pb.BatchCountViewTicketsRequest(names=names, agent=agent)
    )
    assert [c.view for c in response.counts] == names
    return [c.ticket_count for c in response.counts]


def test_built_in_views_are_there_in_order(views: ViewServiceStub) -> None:
    listed = views.ListViews(pb.ListViewsRequest(page_size=1000)).views
    built_in = [v for v in listed if v.name in BUILT_IN]
    assert [v.name for v in built_in] == BUILT_IN
    assert all(not v.owner and v.etag and v.create_time.seconds for v in built_in)
    my_open = views.GetView(pb.GetViewRequest(name="views/my-open"))
    assert my_open.filter == "assignee = @me AND (status = NEW OR status = OPEN)"
    breaching = views.GetView(pb.GetViewRequest(name="views/breaching-soon"))
    assert (breaching.filter, breaching.order_by) == ("sla_due_time <= @now+1h", "sla_due_time")


def test_create_get_update_delete(views: ViewServiceStub) -> None:
    created = create_view(views, display_name=" Billing ", filter='tags:"billing"')
    assert created.name.startswith("views/") and created.display_name == "Billing"
    assert created.HasField("position") and created.etag == 'W/"1"'
    assert views.GetView(pb.GetViewRequest(name=created.name)) == created

    renamed = update_view(
        views, pb.View(name=created.name, display_name="Billing queue", position=7), "display_name"
    )
    assert (renamed.display_name, renamed.position) == ("Billing queue", created.position)
    moved = update_view(views, pb.View(name=created.name, position=7, etag=renamed.etag))
    assert moved.position == 7 and moved.display_name == "Billing queue"
    stale = rpc_error(
        lambda: update_view(
            views, pb.View(name=created.name, display_name="x", etag=created.etag), "display_name"
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    gone = rpc_error(lambda: views.DeleteView(pb.DeleteViewRequest(name=created.name, etag="x")))
    assert gone.code() == grpc.StatusCode.ABORTED
    views.DeleteView(pb.DeleteViewRequest(name=created.name, etag=moved.etag))
    for call in (
        lambda: views.GetView(pb.GetViewRequest(name=created.name)),
        lambda: views.DeleteView(pb.DeleteViewRequest(name=created.name)),
        lambda: update_view(views, pb.View(name=created.name, display_name="x"), "display_name"),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


def test_client_chosen_ids_and_positions(views: ViewServiceStub) -> None:
    view_id = f"v-{uuid.uuid4().hex[:8]}"
    first = create_view(views, view_id, position=-5)
    assert first.name == f"views/{view_id}" and first.position == -5
    clash = rpc_error(lambda: create_view(views, view_id))
    assert clash.code() == grpc.StatusCode.ALREADY_EXISTS
    last = create_view(views)
    everything = views.ListViews(pb.ListViewsRequest(page_size=1000)).views
    assert everything[0].name == first.name and everything[-1].name == last.name
    assert last.position == max(v.position for v in everything)


def test_personal_views_are_listed_for_their_owner_only(views: ViewServiceStub) -> None:
    owner, other = (f"agents/{uuid.uuid4().hex[:8]}" for _ in range(2))
    personal = create_view(views, owner=owner, filter="assignee = @me")

    def listed(agent: str) -> list[str]:
        request = pb.ListViewsRequest(agent=agent, page_size=2)
        names: list[str] = []
        while True:
            response = views.ListViews(request)
            names += [v.name for v in response.views]
            if not response.next_page_token:
                return names
            request.page_token = response.next_page_token

    assert personal.name in listed(owner) and personal.name not in listed(other)
    assert set(BUILT_IN) <= set(listed(other))
    assert personal.name in listed("")


def test_bad_views_are_refused_with_the_field_at_fault(views: ViewServiceStub) -> None:
    cases = [
        ({"display_name": ""}, "view.display_name"),
        ({"filter": "colour = red"}, "view.filter"),
        ({"filter": "status = @yesterday"}, "view.filter"),
        ({"filter": "status = (OPEN"}, "view.filter"),
        ({"order_by": "subject"}, "view.order_by"),
        ({"order_by": "priority sideways"}, "view.order_by"),
        ({"owner": "people/1"}, "view.owner"),
    ]
    for fields, path in cases:
        error = rpc_error(lambda fields=fields: create_view(views, **fields))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert list(field_violations(error)) == [path], fields
    bad_id = rpc_error(lambda: create_view(views, "Bad Id"))
    assert list(field_violations(bad_id)) == ["view_id"]
    missing = rpc_error(lambda: views.CreateView(pb.CreateViewRequest()))
    assert list(field_violations(missing)) == ["view"]

    view = create_view(views)
    for request, path in [
        (pb.UpdateViewRequest(), "view"),
        (pb.UpdateViewRequest(view=pb.View(name="tickets/1")), "view.name"),
        (
            pb.UpdateViewRequest(view=view, update_mask=FieldMask(paths=["etag"])),
            "update_mask",
        ),
        (
            pb.UpdateViewRequest(
                view=pb.View(name=view.name, filter="priority > HIGH"),
                update_mask=FieldMask(paths=["filter"]),
            ),
            "view.filter",
        ),
    ]:
        error = rpc_error(lambda request=request: views.UpdateView(request))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert list(field_violations(error)) == [path], request
    for call, path in [
        (lambda: views.GetView(pb.GetViewRequest(name="views/")), "name"),
        (lambda: views.DeleteView(pb.DeleteViewRequest(name="views/a/b")), "name"),
        (lambda: views.ListViews(pb.ListViewsRequest(page_size=-1)), "page_size"),
        (lambda: views.ListViews(pb.ListViewsRequest(page_token="junk")), "page_token"),
        (lambda: views.ListViews(pb.ListViewsRequest(agent="bob")), "agent"),
    ]:
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert list(field_violations(error)) == [path]


def test_my_open_resolves_me_to_the_agent_looking(suite: Suite, views: ViewServiceStub) -> None:
    desk = Desk(suite)
    colleague = new_agent(suite)
    mine = desk.ticket("mine", assignee=desk.agent)
    desk.ticket("theirs", assignee=colleague)
    waiting = desk.ticket("waiting", assignee=desk.agent)
    desk.set_status(waiting.name, tp.TICKET_STATUS_PENDING)
    found = all_view_tickets(views, "views/my-open", desk.agent)
    assert [t.name for t in found] == [mine.name]
    assert desk.mine(all_view_tickets(views, "views/my-open", colleague)) == ["theirs"]

    error = rpc_error(
        lambda: views.ListViewTickets(pb.ListViewTicketsRequest(view="views/my-open"))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "@me" in field_violations(error)["agent"]
    # A personal view is its owner's when nobody else is named.
    personal = create_view(views, owner=desk.agent, filter="assignee = @me")
    assert desk.mine(all_view_tickets(views, personal.name)) == ["waiting", "mine"]


def test_counts_follow_tickets_as_they_come_and_go(suite: Suite, views: ViewServiceStub) -> None:
    desk = Desk(suite)
    working = create_view(
        views, filter=f'tags:"{desk.tag}" AND (status = NEW OR status = OPEN)'
    ).name
    urgent = create_view(views, filter=f'tags:"{desk.tag}" AND priority = URGENT').name
    assert counts(views, [working, urgent]) == [0, 0]
    first = desk.ticket("first")
    desk.ticket("second", priority=tp.TICKET_PRIORITY_URGENT)
    assert counts(views, [working, urgent, working]) == [2, 1, 2]
    desk.set_status(first.name, tp.TICKET_STATUS_SOLVED)
    assert counts(views, [urgent, working]) == [1, 1]
    # The built-in views count too, @me included.
    desk.ticket("assigned", assignee=desk.agent)
    assert counts(views, ["views/my-open"], desk.agent) == [1]


def test_bad_count_requests(views: ViewServiceStub) -> None:
    def error_of(request: pb.BatchCountViewTicketsRequest) -> grpc.RpcError:
        return rpc_error(lambda: views.BatchCountViewTickets(request))

    for request, paths in [
        (pb.BatchCountViewTicketsRequest(), ["names"]),
        (
            pb.BatchCountViewTicketsRequest(names=["views/unsolved", "x/1", ""]),
            ["names[1]", "names[2]"],
        ),
        (pb.BatchCountViewTicketsRequest(names=["views/unsolved"] * 101), ["names"]),
        (pb.BatchCountViewTicketsRequest(names=["views/unsolved"], agent="me"), ["agent"]),
        (pb.BatchCountViewTicketsRequest(names=["views/unsolved", "views/my-open"]), ["agent"]),
    ]:
        error = error_of(request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert list(field_violations(error)) == paths, request
    missing = error_of(pb.BatchCountViewTicketsRequest(names=["views/unsolved", "views/nope"]))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert "views/nope" in (missing.details() or "")


def test_view_tickets_page_in_the_view_order(suite: Suite, views: ViewServiceStub) -> None:
    desk = Desk(suite)
    for label, priority in [
        ("low", tp.TICKET_PRIORITY_LOW),
        ("urgent", tp.TICKET_PRIORITY_URGENT),
        ("normal", tp.TICKET_PRIORITY_NORMAL),
        ("high", tp.TICKET_PRIORITY_HIGH),
        ("urgent-too", tp.TICKET_PRIORITY_URGENT),
    ]:
        desk.ticket(label, priority=priority)
    view = create_view(views, filter=f'tags:"{desk.tag}"', order_by="priority desc, create_time")
    labels = desk.mine(all_view_tickets(views, view.name))
    assert labels == ["urgent", "urgent-too", "high", "normal", "low"]

    first = views.ListViewTickets(pb.ListViewTicketsRequest(view=view.name, page_size=2))
    token = first.next_page_token
    # A rename keeps the token; a new order does not, nor another view.
    renamed = update_view(views, pb.View(name=view.name, display_name="Renamed"), "display_name")
    again = views.ListViewTickets(
        pb.ListViewTicketsRequest(view=view.name, page_size=2, page_token=token)
    )
    assert desk.mine(list(again.tickets)) == ["high", "normal"]
    other = create_view(views, filter=f'tags:"{desk.tag}"', order_by="priority desc, create_time")
    update_view(views, pb.View(name=renamed.name, order_by="create_time"), "order_by")
    for name in (view.name, other.name):
        error = rpc_error(
            lambda name=name: views.ListViewTickets(  # type: ignore[misc]
                pb.ListViewTicketsRequest(view=name, page_size=2, page_token=token)
            )
        )
        assert list(field_violations(error)) == ["page_token"]


def test_bad_view_ticket_requests(views: ViewServiceStub) -> None:
    for request, path in [
        (pb.ListViewTicketsRequest(), "view"),
        (pb.ListViewTicketsRequest(view="views/unsolved", agent="agents/"), "agent"),
        (pb.ListViewTicketsRequest(view="views/unsolved", page_size=1001), "page_size"),
        (pb.ListViewTicketsRequest(view="views/unsolved", page_token="%%%"), "page_token"),
    ]:
        error = rpc_error(lambda request=request: views.ListViewTickets(request))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert list(field_violations(error)) == [path], request
    missing = rpc_error(lambda: views.ListViewTickets(pb.ListViewTicketsRequest(view="views/no")))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


def test_queue_holds_the_agents_and_takeable_working_tickets(
    suite: Suite, views: ViewServiceStub
) -> None:
    desk = Desk(suite)
    other_group = new_group(suite)
    colleague = new_agent(suite, other_group)
    desk.ticket("mine-normal", assignee=desk.agent)
    desk.ticket("unassigned-urgent", priority=tp.TICKET_PRIORITY_URGENT)
    desk.ticket("my-group-high", group=desk.group, priority=tp.TICKET_PRIORITY_HIGH)
    desk.ticket("mine-normal-later", assignee=desk.agent)
    desk.ticket("other-group", group=other_group, priority=tp.TICKET_PRIORITY_URGENT)
    desk.ticket("theirs", assignee=colleague, priority=tp.TICKET_PRIORITY_URGENT)
    waiting = desk.ticket("waiting", assignee=desk.agent, priority=tp.TICKET_PRIORITY_URGENT)
    desk.set_status(waiting.name, tp.TICKET_STATUS_ON_HOLD)
    solved = desk.ticket("solved", assignee=desk.agent)
    desk.set_status(solved.name, tp.TICKET_STATUS_SOLVED)
    opened = desk.ticket("opened", assignee=desk.agent, priority=tp.TICKET_PRIORITY_LOW)
    desk.set_status(opened.name, tp.TICKET_STATUS_OPEN)
    # Without running SLA targets, urgency decides, then age.
    assert desk.mine(queue(views, desk.agent)) == [
        "unassigned-urgent",
        "my-group-high",
        "mine-normal",
        "mine-normal-later",
        "opened",
    ]
    assert desk.mine(queue(views, colleague)) == ["unassigned-urgent", "other-group", "theirs"]


def test_bad_queue_requests(suite: Suite, views: ViewServiceStub) -> None:
    for request, path in [
        (pb.ListQueueTicketsRequest(), "agent"),
        (pb.ListQueueTicketsRequest(agent="groups/1"), "agent"),
        (pb.ListQueueTicketsRequest(agent="agents/1", page_size=-3), "page_size"),
        (pb.ListQueueTicketsRequest(agent="agents/1", page_token="nope"), "page_token"),
    ]:
        error = rpc_error(lambda request=request: views.ListQueueTickets(request))  # type: ignore[misc]
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert list(field_violations(error)) == [path], request
    desk = Desk(suite)
    for label in ("one", "two"):
        desk.ticket(label, assignee=desk.agent)
    token = views.ListQueueTickets(
        pb.ListQueueTicketsRequest(agent=desk.agent, page_size=1)
    ).next_page_token
    # A token continues one agent's queue only.
    other = rpc_error(
        lambda: views.ListQueueTickets(
            pb.ListQueueTicketsRequest(agent=new_agent(suite), page_token=token)
        )
    )
    assert list(field_violations(other)) == ["page_token"]
    unknown = rpc_error(
        lambda: views.ListQueueTickets(pb.ListQueueTicketsRequest(agent="agents/nobody"))
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND


# --- SLA order, on a database of the test's own ------------------------------
#
# Tickets get running SLA targets only through the SLA rules; here they are
# stored with targets directly, so the queue's and the views' use of the due
# time is tested on both backends whatever policies exist.

NOW = datetime.now(UTC)


def _ticket(number: int, label: str, priority: Priority, due: timedelta | None) -> Ticket:
    details = TicketDetails(
        subject=label, requester="people/p", assignee="agents/a", priority=priority
    )
    ticket = Ticket.create(f"t{number}", number, details, Channel.API, NOW)
    if due is not None:
        ticket.sla_targets = (SlaTarget(SlaMetric.RESOLUTION, 3600, due_time=NOW + due),)
    if label == "paused":
        ticket.sla_targets = (SlaTarget(SlaMetric.RESOLUTION, 3600, paused=True),)
    if label == "pending":
        ticket.status = TicketStatus.PENDING
    return ticket


def test_queue_and_views_order_by_the_nearest_sla_due_time(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counting stops at the limit, here lowered to fit a handful of tickets.
    monkeypatch.setattr(handlers, "COUNT_LIMIT", 5)
    asyncio.run(_check_sla_order(databases.new("support")))


async def _check_sla_order(url: str) -> None:
    await upgrade_to_head(url, SPEC.migrations)
    engine = create_engine(url)
    units = lambda: UnitOfWork(session_factory(engine), "support")  # noqa: E731
    stored = [
        _ticket(1, "no-sla-urgent", Priority.URGENT, None),
        _ticket(2, "due-in-3h", Priority.LOW, timedelta(hours=3)),
        _ticket(3, "overdue", Priority.LOW, timedelta(minutes=-10)),
        _ticket(4, "due-in-30m", Priority.NORMAL, timedelta(minutes=30)),
        _ticket(5, "paused", Priority.HIGH, None),
        _ticket(6, "pending", Priority.URGENT, timedelta(minutes=5)),
        _ticket(7, "no-sla-low", Priority.LOW, None),
        _ticket(8, "due-in-30m-high", Priority.HIGH, timedelta(minutes=30)),
    ]
    try:
        async with units() as uow:
            agent = Agent.create("a", AgentDetails("A", "a@helpdesk.example"), NOW)
            await AgentRepository(uow.session).add(agent)
            for ticket in stored:
                await TicketRepository(uow.session).add(ticket)
            await uow.commit()
        labels = {ticket.id: ticket.details.subject for ticket in stored}

        seen: list[str] = []
        after = None
        while True:
            page = await handlers.list_queue_tickets(units(), SUPERVISOR, "agents/a", after, 3)
            seen += [labels[t.id] for t in page.items]
            if page.next_key is None:
                break
            after = page.next_key
        assert seen == [
            "overdue",
            "due-in-30m-high",
            "due-in-30m",
            "due-in-3h",
            "no-sla-urgent",
            "paused",
            "no-sla-low",
        ]

        breaching, token = await handlers.list_view_tickets(
            units(), SUPERVISOR, "breaching-soon", "", "", 50
        )
        assert [labels[t.id] for t in breaching] == [
            "overdue",
            "pending",
            "due-in-30m",
            "due-in-30m-high",
        ]
        assert token == ""
        counted = await handlers.count_view_tickets(
            units(), SUPERVISOR, ["breaching-soon", "unsolved", "my-open"], "agents/a"
        )
        assert [(c.view, c.count, c.capped) for c in counted] == [
            ("views/breaching-soon", 4, False),
            ("views/unsolved", 5, True),
            ("views/my-open", 5, True),
        ]
        # A ticket without a running target has no due time: it is never
        # "due before", so it is in the negation, and not present.
        later = await handlers.create_view(
            units(), ViewDetails("Not soon", "NOT sla_due_time <= @now+1h"), None, "not-soon"
        )
        running = await handlers.create_view(
            units(), ViewDetails("Running", "sla_due_time:*"), None, "running"
        )
        counted = await handlers.count_view_tickets(units(), SUPERVISOR, [later.id, running.id], "")
        assert [c.count for c in counted] == [4, 5]
    finally:
        await engine.dispose()
