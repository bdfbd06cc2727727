"""The production topology on one machine, and what survives losing part of it.

A 3-node NATS JetStream cluster on loopback (streams with 3 replicas),
PostgreSQL with a database per service, and two replicas of each of the four
services on their service's database. Traffic runs through all four at once,
each call going to either replica of its service and moving to the other one
when a replica does not answer, as a load balancer would. Mid-traffic the
NATS node leading the contacts stream and one replica of every service are
killed with SIGKILL; traffic goes on against what is left. Then every
acknowledged create must exist exactly once, every effect crossing services
must have happened exactly once, every event must have been applied exactly
once by every consumer that handles it, and nothing may be dead-lettered.

PostgreSQL only, and run once: replicas share a database, which SQLite (a
file per process, for `crm up`) does not offer, and the other integration
tests already cover each service on both backends.
"""

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
import nats
import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.money_pb2 import Money
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm.contacts.v1 import contacts_service_pb2 as contacts_pb
from crm.contacts.v1 import person_pb2
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.events.v1.event_pb2 import Event
from crm.projects.v1 import project_pb2, task_pb2, template_pb2
from crm.projects.v1 import projects_service_pb2 as projects_pb
from crm.projects.v1 import task_service_pb2 as tasks_pb
from crm.projects.v1 import template_service_pb2 as templates_pb
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm.projects.v1.template_service_pb2_grpc import TemplateServiceStub
from crm.sales.v1 import close_reason_pb2, opportunity_pb2, pipeline_pb2
from crm.sales.v1 import sales_service_pb2 as sales_pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm.support.v1 import support_service_pb2 as support_pb
from crm.support.v1 import ticket_pb2
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub
from crm_cli.processes import ServiceProcess
from crm_cli.servers import NatsServer, PostgresServer, free_port, nats_cluster
from crm_common import transport
from crm_common.auth.client import with_token
from crm_common.messaging.envelope import DEAD_LETTER_STREAM, stream_for
from crm_common.server import ServiceSpec
from crm_contacts.main import SPEC as CONTACTS_SPEC
from crm_projects.main import SPEC as PROJECTS_SPEC
from crm_sales.main import SPEC as SALES_SPEC
from crm_support.main import SPEC as SUPPORT_SPEC
from tests.integration.harness import ADMIN_TOKEN, eventually

pytestmark = pytest.mark.slow

T = TypeVar("T")

SPECS: dict[str, ServiceSpec] = {
    spec.name: spec for spec in (CONTACTS_SPEC, SUPPORT_SPEC, SALES_SPEC, PROJECTS_SPEC)
}
REPLICAS = ("a", "b")
# Operations each traffic stream completes before the kill, and again after it.
OPERATIONS_PER_PHASE = 15
# A replica may be killed holding fetched, unacknowledged events: the broker
# hands them to the other replica once the consumers' ack_wait (30 s) ends.
SETTLE_TIMEOUT = 90.0
# The other replica, or the same one once it answers again.
RETRIED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
PIPELINE, CLOSE_REASON = "pipelines/cluster", "closeReasons/signed"
REQUESTER_DOMAIN = "requesters.test"


# --- the topology --------------------------------------------------------------------


@dataclass
class Cluster:
    nats: list[NatsServer]
    database_urls: dict[str, str]
    replicas: dict[str, list[ServiceProcess]]

    @property
    def live_nats_url(self) -> str:
        return next(server.url for server in self.nats if server.running)


@pytest.fixture
def cluster(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Cluster]:
    servers = nats_cluster(tmp_path / "nats", size=3)
    try:
        urls = {s: postgres_server.create_database(f"{s}_cluster") for s in SPECS}
        with running_replicas(servers, urls, tmp_path / "logs") as replicas:
            yield Cluster(servers, urls, replicas)
    finally:
        for server in servers:
            server.stop()


@contextmanager
def running_replicas(
    servers: list[NatsServer], urls: dict[str, str], logs: Path
) -> Iterator[dict[str, list[ServiceProcess]]]:
    """Both replicas of every service, started replica by replica: the first
    of each service migrates its database, the second finds it current."""
    addresses = {service: [f"127.0.0.1:{free_port()}" for _ in REPLICAS] for service in SPECS}
    env = {
        # Every member, so that a process starts and reconnects with any one down.
        "CRM_NATS_URL": ",".join(server.url for server in servers),
        "CRM_STREAM_REPLICAS": "3",
        # gRPC's own list of addresses: sales reaches whichever contacts replica answers.
        "CRM_CONTACTS_TARGET": "ipv4:" + ",".join(addresses["contacts"]),
        "CRM_JOBS_INTERVAL_SECONDS": "0.5",
    }
    replicas = {
        service: [
            ServiceProcess(
                service,
                address,
                {**env, f"CRM_{service.upper()}_DATABASE_URL": urls[service]},
                logs / f"{service}-{replica}.log",
            )
            for replica, address in zip(REPLICAS, addresses[service], strict=True)
        ]
        for service in SPECS
    }
    processes = [process for group in replicas.values() for process in group]
    try:
        for index in range(len(REPLICAS)):
            wave = [group[index] for group in replicas.values()]
            for process in wave:
                process.start(wait_serving=False)
            for process in wave:
                process.wait_serving(timeout=90)
        yield replicas
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.stop()


# --- traffic -------------------------------------------------------------------------


class Balancer:
    """Sends each call to the next replica of a service in turn, and on to the
    other one when it does not answer, as a load balancer without health
    checks would. One traffic stream uses it at a time."""

    def __init__(self, processes: list[ServiceProcess]) -> None:
        # As the admin the test environment's services trust (tests/conftest.py).
        self._channels = [
            with_token(transport.channel(p.address, transport.settings_from(p.env)), ADMIN_TOKEN)
            for p in processes
        ]
        self._turn = itertools.count()
        self.failovers = 0
        # Repeats after a failover that found the first attempt had committed.
        self.repeats_already_done = 0

    def call(self, stub_class: Callable[[grpc.Channel], Any], method: str, request: Message) -> Any:
        """The response from whichever replica answers; errors other than a lost replica raise."""
        for attempt in itertools.count():
            channel = self._channels[next(self._turn) % len(self._channels)]
            try:
                return getattr(stub_class(channel), method)(request, timeout=10)
            except grpc.RpcError as error:
                if error.code() not in RETRIED or attempt >= 20:
                    raise
                self.failovers += 1
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def create(
        self, stub_class: Callable[[grpc.Channel], Any], method: str, request: Message
    ) -> None:
        """A create under a client-chosen id. After a failover the first attempt
        may have committed on the replica that died: the repeat then returns
        that record, or ALREADY_EXISTS once an event has changed it since."""
        self.repeatable(stub_class, method, request, grpc.StatusCode.ALREADY_EXISTS)

    def repeatable(
        self,
        stub_class: Callable[[grpc.Channel], Any],
        method: str,
        request: Message,
        done_already: grpc.StatusCode,
    ) -> bool:
        """Whether the call did its work now (True) or, as `done_already` after a
        failover says, an attempt on the replica that died did (False)."""
        failovers_before = self.failovers
        try:
            self.call(stub_class, method, request)
        except grpc.RpcError as error:
            if error.code() != done_already or self.failovers == failovers_before:
                raise
            self.repeats_already_done += 1
            return False
        return True

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


@dataclass
class Traffic:
    """What each stream of requests had acknowledged, by client-chosen id."""

    people: list[str] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)  # ticket id -> requester email
    won: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    balancers: dict[str, Balancer] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "people": len(self.people),
            "tickets": len(self.tickets),
            "won": len(self.won),
            "tasks": len(self.tasks),
        }


def drive(cluster: Cluster, traffic: Traffic, stop: threading.Event) -> list[threading.Thread]:
    """One thread per service creating records until `stop`, each op retried until acknowledged."""
    balancers = traffic.balancers = {
        service: Balancer(group) for service, group in cluster.replicas.items()
    }

    def create_person(i: int) -> None:
        person_id = f"c-{i}"
        person = person_pb2.Person(
            given_name="Cluster",
            family_name=f"Person {i}",
            email_addresses=[person_pb2.EmailAddress(address=f"{person_id}@people.test")],
        )
        request = contacts_pb.CreatePersonRequest(person=person, person_id=person_id)
        balancers["contacts"].create(ContactsServiceStub, "CreatePerson", request)
        traffic.people.append(person_id)

    def create_ticket(i: int) -> None:
        # Two tickets per address: contacts makes one person for both, even
        # when each replica handles one of them at the same moment.
        email = f"r-{i // 2}@{REQUESTER_DOMAIN}"
        request = support_pb.CreateTicketRequest(
            ticket=ticket_pb2.Ticket(subject=f"Cluster ticket {i}", requester_email=email),
            ticket_id=f"t-{i}",
            requester_name=f"Requester {i // 2}",
        )
        balancers["support"].create(SupportServiceStub, "CreateTicket", request)
        traffic.tickets[f"t-{i}"] = email

    def win_deal(i: int) -> None:
        opportunity = opportunity_pb2.Opportunity(
            display_name=f"Cluster deal {i}",
            value=Money(currency_code="EUR", units=1000 + i),
            pipeline=PIPELINE,
            owner="ada",
        )
        request = sales_pb.CreateOpportunityRequest(
            opportunity=opportunity, opportunity_id=f"o-{i}"
        )
        balancers["sales"].create(SalesServiceStub, "CreateOpportunity", request)
        name = f"opportunities/o-{i}"
        win = sales_pb.WinOpportunityRequest(name=name, close_reason=CLOSE_REASON)
        sales = balancers["sales"]
        if not sales.repeatable(
            SalesServiceStub, "WinOpportunity", win, grpc.StatusCode.FAILED_PRECONDITION
        ):
            deal = sales.call(
                SalesServiceStub, "GetOpportunity", sales_pb.GetOpportunityRequest(name=name)
            )
            assert deal.state == opportunity_pb2.OPPORTUNITY_STATE_WON
        traffic.won.append(name)

    def plan_task(i: int) -> None:
        project = projects_pb.CreateProjectRequest(
            project=project_pb2.Project(display_name=f"Cluster project {i}"),
            project_id=f"p-{i}",
        )
        balancers["projects"].create(ProjectsServiceStub, "CreateProject", project)
        # Due within the day: the scheduler owes each task one `task.due_soon`.
        due = Timestamp()
        due.FromDatetime(datetime.now(UTC) + timedelta(hours=2))
        task = tasks_pb.CreateTaskRequest(
            parent=f"projects/p-{i}",
            task=task_pb2.Task(title=f"Cluster task {i}", due_time=due),
            task_id=f"k-{i}",
        )
        balancers["projects"].create(TaskServiceStub, "CreateTask", task)
        traffic.tasks.append(f"k-{i}")

    def loop(operation: Callable[[int], None]) -> None:
        try:
            for i in itertools.count():
                if stop.is_set():
                    return
                operation(i)
        except BaseException as error:
            traffic.errors.append(error)
            raise

    threads = [
        threading.Thread(target=loop, args=(operation,), name=operation.__name__, daemon=True)
        for operation in (create_person, create_ticket, win_deal, plan_task)
    ]
    for thread in threads:
        thread.start()
    return threads


def prepare(cluster: Cluster) -> None:
    """The pipeline, the close reason and the template won deals are made from."""
    sales = Balancer(cluster.replicas["sales"])
    projects = Balancer(cluster.replicas["projects"])
    try:
        sales.call(
            SalesServiceStub,
            "CreatePipeline",
            sales_pb.CreatePipelineRequest(
                pipeline=pipeline_pb2.Pipeline(
                    display_name="Cluster business",
                    stages=[pipeline_pb2.Stage(id="offer", display_name="Offer", probability=50)],
                ),
                pipeline_id=PIPELINE.removeprefix("pipelines/"),
            ),
        )
        sales.call(
            SalesServiceStub,
            "CreateCloseReason",
            sales_pb.CreateCloseReasonRequest(
                close_reason=close_reason_pb2.CloseReason(
                    display_name="Signed", kind=close_reason_pb2.CLOSE_REASON_KIND_WON
                ),
                close_reason_id=CLOSE_REASON.removeprefix("closeReasons/"),
            ),
        )
        projects.call(
            TemplateServiceStub,
            "CreateProjectTemplate",
            templates_pb.CreateProjectTemplateRequest(
                project_template=template_pb2.ProjectTemplate(
                    display_name="Cluster onboarding",
                    pipelines=[PIPELINE],
                    tasks=[template_pb2.TemplateTask(key="kickoff", title="Kick-off call")],
                )
            ),
        )
    finally:
        sales.close()
        projects.close()


# --- reading what happened -------------------------------------------------------------


def rows(url: str, sql: str, **parameters: str) -> list[tuple]:
    async def query() -> list[tuple]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(sql), parameters)
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(query())


def ids(url: str, sql: str) -> set[str]:
    return {row[0] for row in rows(url, sql)}


def jetstream_read(nats_url: str, read: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """`read` over a fresh connection. A request the cluster does not answer
    (a leader being elected) fails as an assertion, so `eventually` retries it."""

    async def run() -> T:
        client = await nats.connect(nats_url)
        try:
            return await read(client.jetstream())
        except NatsError as error:
            raise AssertionError(f"JetStream did not answer: {error!r}") from error
        finally:
            await client.close()

    return asyncio.run(run())


def stream_events(nats_url: str) -> dict[str, list[Event]]:
    """Every event on every service's stream, read message by message from the
    stream leader: no consumer is made, so reading needs no meta leader."""

    async def read(js: JetStreamContext) -> dict[str, list[Event]]:
        found: dict[str, list[Event]] = {}
        for service in SPECS:
            stream = stream_for(service)
            state = (await js.stream_info(stream)).state
            messages = await asyncio.gather(
                *(js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1))
            )
            found[service] = [Event.FromString(message.data or b"") for message in messages]
        return found

    return jetstream_read(nats_url, read)


def dead_letter_count(nats_url: str) -> int:
    async def read(js: JetStreamContext) -> int:
        return int((await js.stream_info(DEAD_LETTER_STREAM)).state.messages)

    return jetstream_read(nats_url, read)


def stream_leader(nats_url: str, service: str) -> str:
    async def read(js: JetStreamContext) -> str:
        info = await js.stream_info(stream_for(service))
        assert info.cluster is not None and info.cluster.leader
        return str(info.cluster.leader)

    return jetstream_read(nats_url, read)


def _once_each(events: list[Event], event_type: str) -> Counter[str]:
    return Counter(e.aggregate_id for e in events if e.type == event_type)


def assert_effects_happened_once(urls: dict[str, str], traffic: Traffic) -> None:
    """Every acknowledged create is there, and every effect it has on another
    service happened, once."""
    people, tickets = set(traffic.people), traffic.tickets
    requester_emails = set(tickets.values())
    everyone = ids(urls["contacts"], "SELECT id FROM people")
    assert people <= everyone, f"{len(people - everyone)} acknowledged people missing"
    # Each person created, plus one per requester address.
    assert len(everyone) == len(people) + len(requester_emails), len(everyone)
    person_of = dict(
        rows(
            urls["contacts"],
            "SELECT address, person_id FROM person_emails WHERE address LIKE :pattern",
            pattern=f"%@{REQUESTER_DOMAIN}",
        )
    )
    assert set(person_of) == requester_emails
    requester_of = dict(rows(urls["support"], "SELECT id, requester_id FROM tickets"))
    assert set(requester_of) == set(tickets)
    assert all(requester_of[t] == person_of[email] for t, email in tickets.items())
    assert ids(urls["support"], "SELECT id FROM customers") == everyone
    known = ids(urls["sales"], "SELECT name FROM known_contacts WHERE name LIKE 'people/%'")
    assert known == {f"people/{p}" for p in everyone}
    projects_of = Counter(
        opportunity
        for (opportunity,) in rows(
            urls["projects"], "SELECT opportunity FROM projects WHERE opportunity <> ''"
        )
    )
    assert projects_of == Counter(traffic.won)
    template_tasks = rows(
        urls["projects"],
        "SELECT count(*) FROM tasks JOIN projects ON projects.id = tasks.project_id"
        " WHERE projects.opportunity <> ''",
    )
    assert template_tasks == [(len(traffic.won),)], "the template has one task"
    assert ids(urls["projects"], "SELECT id FROM tasks") >= set(traffic.tasks)
    for service, url in urls.items():
        assert rows(url, "SELECT count(*) FROM outbox") == [(0,)], service


def assert_events_applied_once(
    nats_url: str, urls: dict[str, str], traffic: Traffic
) -> dict[str, list[Event]]:
    """Each event stored once, announced once per change, and applied once by
    every consumer that handles its type; returns the streams' events."""
    events = stream_events(nats_url)
    for service, published in events.items():
        counted = Counter(e.id for e in published)
        assert max(counted.values(), default=1) == 1, f"{service} stored an event twice"
    assert _once_each(events["contacts"], "contact.created") == Counter(
        ids(urls["contacts"], "SELECT id FROM people")
    )
    assert _once_each(events["support"], "ticket.created") == Counter(list(traffic.tickets))
    won_ids = [name.removeprefix("opportunities/") for name in traffic.won]
    assert _once_each(events["sales"], "opportunity.won") == Counter(won_ids)
    due_soon = _once_each(events["projects"], "task.due_soon")
    assert {k: due_soon[k] for k in traffic.tasks} == dict.fromkeys(traffic.tasks, 1)
    for service, spec in SPECS.items():
        for subscription in spec.subscriptions:
            consumer = f"{service}-from-{subscription.source}"
            handled = {e.id for e in events[subscription.source] if e.type in subscription.handlers}
            applied = rows(
                urls[service],
                "SELECT event_id FROM inbox WHERE consumer = :consumer",
                consumer=consumer,
            )
            assert {e for (e,) in applied} == handled, consumer
    return events


# --- the test --------------------------------------------------------------------------


def test_losing_a_nats_node_and_a_replica_of_every_service_loses_and_duplicates_nothing(
    cluster: Cluster,
) -> None:
    prepare(cluster)
    traffic, stop = Traffic(), threading.Event()
    threads = drive(cluster, traffic, stop)

    def each_stream_did(at_least: dict[str, int]) -> None:
        if traffic.errors:
            raise RuntimeError("a traffic stream failed") from traffic.errors[0]
        assert all(traffic.counts()[k] >= v for k, v in at_least.items()), traffic.counts()

    eventually(lambda: each_stream_did(dict.fromkeys(traffic.counts(), OPERATIONS_PER_PHASE)), 120)
    leader = eventually(lambda: stream_leader(cluster.live_nats_url, "contacts"))
    killed_node = next(s for s in cluster.nats if s.server_name == leader)
    killed_node.kill()
    killed = [group[0] for group in cluster.replicas.values()]
    for process in killed:
        process.kill()
    at_kill = traffic.counts()
    eventually(
        lambda: each_stream_did({k: v + OPERATIONS_PER_PHASE for k, v in at_kill.items()}), 120
    )
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not traffic.errors, traffic.errors
    failovers = {s: b.failovers for s, b in traffic.balancers.items()}
    repeats = {s: b.repeats_already_done for s, b in traffic.balancers.items()}
    for balancer in traffic.balancers.values():
        balancer.close()

    urls = cluster.database_urls
    eventually(lambda: assert_effects_happened_once(urls, traffic), SETTLE_TIMEOUT)
    events = eventually(
        lambda: assert_events_applied_once(cluster.live_nats_url, urls, traffic), SETTLE_TIMEOUT
    )
    stored = {service: len(published) for service, published in events.items()}
    dead_letters = eventually(lambda: dead_letter_count(cluster.live_nats_url))
    print(
        f"\ncluster: killed nats node {killed_node.server_name} (leader of the contacts stream)"
        f" and {', '.join(f'{p.service}-a (pid {p.pid})' for p in killed)} with SIGKILL"
        f" after {at_kill}; acknowledged {traffic.counts()}; failovers {failovers}"
        f" (of which the first attempt had committed: {repeats});"
        f" people {len(traffic.people)} + one per requester address"
        f" {len(set(traffic.tickets.values()))}; events stored {stored}, each once and applied"
        f" once by every consumer; dead letters {dead_letters}"
    )
    assert dead_letters == 0
