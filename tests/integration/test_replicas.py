"""Two replicas of each service on one PostgreSQL database and one broker.

The relays lock the outbox rows they publish (SKIP LOCKED), the consumers
share one durable consumer per service, and a rolling restart under load
loses no acknowledged write and applies none twice.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm_cli.processes import ServiceProcess
from crm_cli.servers import NatsServer, PostgresServer, free_port
from crm_common.auth.client import with_token
from tests.integration.harness import ADMIN_TOKEN, eventually
from tests.integration.test_faults import scalar, stream_message_count

pytestmark = pytest.mark.slow


class Replicas:
    def __init__(self, nats: NatsServer, postgres: PostgresServer, logs: Path) -> None:
        self.urls = {s: postgres.create_database(f"{s}_replicas") for s in ("contacts", "support")}
        self.processes = [
            ServiceProcess(
                service,
                f"127.0.0.1:{free_port()}",
                {
                    "CRM_NATS_URL": nats.url,
                    f"CRM_{service.upper()}_DATABASE_URL": self.urls[service],
                },
                logs / f"{service}-{replica}.log",
            )
            for service in ("contacts", "support")
            for replica in ("a", "b")
        ]

    def of(self, service: str) -> list[ServiceProcess]:
        return [p for p in self.processes if p.service == service]


@pytest.fixture
def replicas(
    postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[tuple[NatsServer, Replicas]]:
    with NatsServer(tmp_path / "nats-store") as nats:
        group = Replicas(nats, postgres_server, tmp_path / "logs")
        for process in group.processes:
            process.start()
        try:
            yield nats, group
        finally:
            for process in group.processes:
                process.stop()


def test_rolling_restart_of_two_replicas_under_load_loses_and_duplicates_nothing(
    replicas: tuple[NatsServer, Replicas],
) -> None:
    nats, group = replicas
    acknowledged: list[str] = []
    stop = threading.Event()

    def write_through(process: ServiceProcess) -> None:
        with with_token(grpc.insecure_channel(process.address), ADMIN_TOKEN) as channel:
            stub = ContactsServiceStub(channel)
            index = 0
            while not stop.is_set():
                index += 1
                request = contacts.CreatePersonRequest(
                    person=person_pb2.Person(given_name=f"{process.log_path.stem} {index}")
                )
                try:
                    acknowledged.append(stub.CreatePerson(request, timeout=5).name)
                except grpc.RpcError:
                    threading.Event().wait(0.05)  # this replica is restarting

    writers = [threading.Thread(target=write_through, args=(p,)) for p in group.of("contacts")]
    for writer in writers:
        writer.start()
    for process in [*group.of("contacts"), *group.of("support")]:
        eventually(lambda: _assert(len(acknowledged) > 100), timeout=60)
        acknowledged_before = len(acknowledged)
        process.stop()  # SIGTERM: drains, as a rolling update does
        process.start()
        eventually(
            lambda before=acknowledged_before: _assert(len(acknowledged) > before + 100), timeout=60
        )
    stop.set()
    for writer in writers:
        writer.join()

    total = len(acknowledged)
    support_url = group.urls["support"]
    eventually(
        lambda: _assert(scalar(support_url, "SELECT count(*) FROM customers") == total), timeout=90
    )
    stored = stream_message_count(nats.url, "contacts")
    applied = scalar(support_url, "SELECT count(*) FROM inbox")
    print(
        f"\nrolling restart, 2+2 replicas: acknowledged={total} stored={stored} applied={applied}"
    )
    assert stored == total
    assert applied == total
    assert scalar(group.urls["contacts"], "SELECT count(*) FROM outbox") == 0


def _assert(condition: bool) -> None:
    assert condition
