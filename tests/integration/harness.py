"""Running the suite's services for real in tests, reading what they publish, and
asserting on gRPC errors."""

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
import nats
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.events.v1.event_pb2 import Event
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub
from crm_cli.processes import ServiceProcess
from crm_cli.servers import NatsServer, PostgresServer, free_port
from crm_common import transport
from crm_common.auth.client import with_token
from crm_common.auth.roles import ADMIN
from crm_common.auth.tokens import mint_token, new_dev_secret
from crm_common.config import SuiteSettings
from crm_common.messaging.envelope import stream_for

T = TypeVar("T")

# Every service and every `crm` the tests start trusts this dev secret:
# tests/conftest.py puts AUTH_ENV, and an admin token as CRM_TOKEN, into the
# environment they inherit. Suite channels call as that admin unless told otherwise.
DEV_SECRET = new_dev_secret()
# The settings' default issuer and audience: tests that start processes with
# an environment of their own only need to add the secret.
ISSUER = SuiteSettings.model_fields["auth_issuer"].default
AUDIENCE = SuiteSettings.model_fields["auth_audience"].default
AUTH_ENV = {"CRM_AUTH_DEV_MODE": "true", "CRM_AUTH_DEV_SECRET": DEV_SECRET}


def token(subject: str, *roles: str, ttl_seconds: float = 4 * 3600) -> str:
    """A valid token for `subject` with `roles`, as the suite's issuer would sign it."""
    return mint_token(
        DEV_SECRET, subject, roles, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=ttl_seconds
    )


ADMIN_TOKEN = token("test-admin", ADMIN)


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
    # The suite's extra environment: clients take their CRM_TLS_* settings from it.
    env: dict[str, str] = field(default_factory=dict)

    def channel(self, service: str, token: str = ADMIN_TOKEN) -> grpc.Channel:
        """A channel to `service` whose calls carry `token` (none if "")."""
        settings = transport.settings_from(self.env)
        channel = with_token(transport.channel(self.processes[service].address, settings), token)
        self.channels.append(channel)
        return channel

    def stub(
        self, service: str, stub_class: Callable[[grpc.Channel], T], token: str = ADMIN_TOKEN
    ) -> T:
        """A client of any of a service's gRPC services, calling with `token`."""
        return stub_class(self.channel(service, token))

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
    addresses = {service: f"127.0.0.1:{free_port()}" for service in services}
    # Every process learns where every other one answers (e.g. sales calls contacts).
    targets = {f"CRM_{service.upper()}_TARGET": address for service, address in addresses.items()}
    processes = {
        service: ServiceProcess(
            service,
            addresses[service],
            {
                "CRM_NATS_URL": nats.url,
                **targets,
                f"CRM_{service.upper()}_DATABASE_URL": urls[service],
                # Scheduled jobs (SLA clocks, automations) look often in tests.
                "CRM_JOBS_INTERVAL_SECONDS": "0.2",
                **extra_env,
            },
            logs / f"{service}.log",
        )
        for service in services
    }
    suite = Suite(nats, processes, urls, env=dict(extra_env))
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


def published_events(nats_url: str, service: str, aggregate_id: str | None = None) -> list[Event]:
    """Every event on the service's stream, or those about one aggregate, in stream order."""

    async def read() -> list[Event]:
        client = await nats.connect(nats_url)
        try:
            js = client.jetstream()
            stream = stream_for(service)
            subscription = await js.subscribe(
                f"crm.events.{service}.>", stream=stream, ordered_consumer=True
            )
            pending = (await js.stream_info(stream)).state.messages
            found = [
                Event.FromString((await subscription.next_msg(timeout=5)).data)
                for _ in range(pending)
            ]
            await subscription.unsubscribe()
            return found
        finally:
            await client.close()

    events = asyncio.run(read())
    return [e for e in events if aggregate_id is None or e.aggregate_id == aggregate_id]
