"""The four entities whose Create and Get the harness measures, each with its prerequisites.

Each entity lives in one service; creating it may need something else made
first through the API (a requester for tickets, a pipeline for
opportunities, a project for tasks), which `prepare` makes once, untimed.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import grpc
from google.type.money_pb2 import Money

from bench.samples import create_request
from crm.contacts.v1 import contacts_service_pb2 as contacts_pb
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.projects.v1 import project_pb2, task_pb2
from crm.projects.v1 import projects_service_pb2 as projects_pb
from crm.projects.v1 import task_service_pb2 as tasks_pb
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm.sales.v1 import opportunity_pb2, pipeline_pb2
from crm.sales.v1 import sales_service_pb2 as sales_pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm.support.v1 import support_service_pb2 as support_pb
from crm.support.v1 import ticket_pb2
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub

CALL_TIMEOUT = 30.0

Channels = Mapping[str, grpc.aio.Channel]


@dataclass(frozen=True)
class Calls:
    """One entity's two measured calls: create number N (returns its name), get by name."""

    create: Callable[[int], Awaitable[str]]
    get: Callable[[str], Awaitable[object]]


@dataclass(frozen=True)
class Entity:
    name: str
    # The service that owns it: its process is the `server` of the CPU figures.
    service: str
    create_method: str
    get_method: str
    prepare: Callable[[Channels, str], Awaitable[Calls]]


async def _people(channels: Channels, run: str) -> Calls:
    contacts = ContactsServiceStub(channels["contacts"])

    async def create(number: int) -> str:
        request = create_request(number, run)
        return (await contacts.CreatePerson(request, timeout=CALL_TIMEOUT)).name

    async def get(name: str) -> object:
        request = contacts_pb.GetPersonRequest(name=name)
        return await contacts.GetPerson(request, timeout=CALL_TIMEOUT)

    return Calls(create, get)


async def _tickets(channels: Channels, run: str) -> Calls:
    """Tickets of one requester, a person created through contacts first."""
    support = SupportServiceStub(channels["support"])
    contacts = ContactsServiceStub(channels["contacts"])
    requester = await contacts.CreatePerson(
        create_request(0, f"{run}-requester"), timeout=CALL_TIMEOUT
    )

    async def create(number: int) -> str:
        ticket = ticket_pb2.Ticket(
            subject=f"Printer {number} on fire",
            description="It smokes and the tray is stuck.",
            requester=requester.name,
            tags=["bench", "hardware"],
        )
        request = support_pb.CreateTicketRequest(ticket=ticket)
        return (await support.CreateTicket(request, timeout=CALL_TIMEOUT)).name

    async def get(name: str) -> object:
        request = support_pb.GetTicketRequest(name=name)
        return await support.GetTicket(request, timeout=CALL_TIMEOUT)

    return Calls(create, get)


async def _opportunities(channels: Channels, run: str) -> Calls:
    """Opportunities in one pipeline of three stages, created first."""
    sales = SalesServiceStub(channels["sales"])
    stages = (("lead", 10), ("proposal", 50), ("negotiation", 80))
    pipeline = await sales.CreatePipeline(
        sales_pb.CreatePipelineRequest(
            pipeline=pipeline_pb2.Pipeline(
                display_name="New business",
                stages=[
                    pipeline_pb2.Stage(id=stage, display_name=stage.title(), probability=chance)
                    for stage, chance in stages
                ],
            ),
            pipeline_id=f"bench-{run}",
        ),
        timeout=CALL_TIMEOUT,
    )

    async def create(number: int) -> str:
        opportunity = opportunity_pb2.Opportunity(
            display_name=f"Analytical Engine {number}",
            value=Money(currency_code="EUR", units=1000 + number, nanos=500_000_000),
            pipeline=pipeline.name,
            owner="ada",
            tags=["bench"],
        )
        request = sales_pb.CreateOpportunityRequest(opportunity=opportunity)
        return (await sales.CreateOpportunity(request, timeout=CALL_TIMEOUT)).name

    async def get(name: str) -> object:
        request = sales_pb.GetOpportunityRequest(name=name)
        return await sales.GetOpportunity(request, timeout=CALL_TIMEOUT)

    return Calls(create, get)


async def _tasks(channels: Channels, run: str) -> Calls:
    """Tasks in one project, created first."""
    projects = ProjectsServiceStub(channels["projects"])
    tasks = TaskServiceStub(channels["projects"])
    project = await projects.CreateProject(
        projects_pb.CreateProjectRequest(
            project=project_pb2.Project(display_name="Acme rollout"), project_id=f"bench-{run}"
        ),
        timeout=CALL_TIMEOUT,
    )

    async def create(number: int) -> str:
        task = task_pb2.Task(
            title=f"Configure account {number}",
            description="Set up SSO",
            assignee="users/alice",
            priority=task_pb2.TASK_PRIORITY_HIGH,
        )
        request = tasks_pb.CreateTaskRequest(parent=project.name, task=task)
        return (await tasks.CreateTask(request, timeout=CALL_TIMEOUT)).name

    async def get(name: str) -> object:
        request = tasks_pb.GetTaskRequest(name=name)
        return await tasks.GetTask(request, timeout=CALL_TIMEOUT)

    return Calls(create, get)


ENTITIES = (
    Entity("person", "contacts", "CreatePerson", "GetPerson", _people),
    Entity("ticket", "support", "CreateTicket", "GetTicket", _tickets),
    Entity("opportunity", "sales", "CreateOpportunity", "GetOpportunity", _opportunities),
    Entity("task", "projects", "CreateTask", "GetTask", _tasks),
)
# Every service an entity lives in, in the order they start.
SERVICES = ("contacts", "sales", "support", "projects")
