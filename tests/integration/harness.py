"""Running the suite's services for real in tests, and asserting on gRPC errors."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub
from crm_cli.processes import ServiceProcess
from crm_cli.servers import NatsServer, PostgresServer, free_port

T = TypeVar("T")


class Databases:
    """Hands out a fresh database per service on the chosen backend."""

    def __init__(self, backend: str, folder: Path, postgres: PostgresServer | None) -> None:
        self.backend = backend
        self._folder = folder
        self._postgres = postgres
        self._count = 0

    def new(self, service: str) -> str:
        self._count += 1
        name = f"{service}_{self._count}_{time.monotonic_ns()}"
        if self.backend == "postgresql":
            assert self._postgres is not None
            return self._postgres.create_database(name)
        return f"sqlite+aiosqlite:///{self._folder / name}.db"


@dataclass
class Suite:
    nats: NatsServer
    processes: dict[str, ServiceProcess]
    database_urls: dict[str, str]
    channels: list[grpc.Channel] = field(default_factory=list)

    def channel(self, service: str) -> grpc.Channel:
        channel = grpc.insecure_channel(self.processes[service].address)
        self.channels.append(channel)
        return channel

    def stub(self, service: str, stub_class: Callable[[grpc.Channel], T]) -> T:
        """A client of any of a service's gRPC services."""
        return stub_class(self.channel(service))

    @property
    def contacts(self) -> ContactsServiceStub:
        return ContactsServiceStub(self.channel("contacts"))

    @property
    def support(self) -> SupportServiceStub:
        return SupportServiceStub(self.channel("support"))


@contextmanager
def running_suite(
    services: list[str], nats: NatsServer, databases: Databases, logs: Path, **extra_env: str
) -> Iterator[Suite]:
    urls = {service: databases.new(service) for service in services}
    processes = {
        service: ServiceProcess(
            service,
            f"127.0.0.1:{free_port()}",
            {
                "CRM_NATS_URL": nats.url,
                f"CRM_{service.upper()}_DATABASE_URL": urls[service],
                # Scheduled jobs (SLA clocks, automations) look often in tests.
                "CRM_JOBS_INTERVAL_SECONDS": "0.2",
                **extra_env,
            },
            logs / f"{service}.log",
        )
        for service in services
    }
    suite = Suite(nats, processes, urls)
    try:
        for process in processes.values():
            process.start()
        yield suite
    finally:
        for channel in suite.channels:
            channel.close()
        for process in processes.values():
            process.stop()


def eventually(check: Callable[[], T], timeout: float = 20.0) -> T:
    """Retries `check` until it returns without an assertion or RPC error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, grpc.RpcError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    try:
        call()
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call succeeded but should have failed")


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """The `google.rpc.BadRequest` field violations of a failed call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no rich status on {error.code()}: {error.details()}"
    violations: dict[str, str] = {}
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            violations.update((v.field, v.description) for v in bad_request.field_violations)
    return violations
