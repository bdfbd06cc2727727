"""Bootstrap shared by every service: one call from each service's `main`.

Starts the gRPC server (with health and reflection), the outbox relay and the
service's event consumers; reports SERVING only while both the database and
NATS answer; on SIGTERM reports NOT_SERVING, lets in-flight calls finish,
flushes the outbox and closes everything.
"""

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client
from nats.errors import Error as NatsError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_common import transport
from crm_common.audit.interceptor import CallContextInterceptor
from crm_common.auth.interceptor import AuthInterceptor
from crm_common.auth.roles import PermissionTable, by_method_path
from crm_common.auth.tokens import AuthConfigError, verifier_from_settings
from crm_common.config import ServiceSettings, SuiteSettings, load_service_settings
from crm_common.grpc.errors import ErrorMappingInterceptor
from crm_common.grpc.telemetry import TelemetryInterceptor
from crm_common.logs import configure_logging
from crm_common.messaging.broker import (
    NatsSecurityError,
    connect,
    dead_letter_stream_config,
    ensure_stream,
    event_stream_config,
    security_options,
)
from crm_common.messaging.consumer import EventConsumer, RetryPolicy, Subscription
from crm_common.messaging.gauges import report_consumers, report_outbox
from crm_common.messaging.relay import OutboxRelay
from crm_common.messaging.replay import ReadModel
from crm_common.messaging.uow import UnitOfWork
from crm_common.metrics import serve_metrics
from crm_common.storage.db import create_engine, ping, session_factory
from crm_common.storage.migrations import upgrade_to_head
from crm_common.tracing import configure_tracing, tracer

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# grpc sets SO_REUSEPORT by default, so a second process on a taken port would
# silently share it with the first and get some of its calls: refuse instead.
NO_SHARED_PORT = ("grpc.so_reuseport", 0)
# The health name a liveness probe asks for: SERVING while the process answers
# at all. Readiness ("" and each service) also follows the database and NATS,
# and restarting a process does not bring either back.
LIVENESS = "liveness"


@dataclass
class Runtime:
    """What a service's servicers and handlers get from the bootstrap."""

    service: str
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    relay: OutboxRelay

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.service, on_commit=self.relay.wake)


@dataclass(frozen=True)
class GrpcService:
    """One gRPC service a process serves: its descriptor (for reflection and
    health), the generated function adding it to a server, and the servicer
    class, built from the unit-of-work factory."""

    descriptor: ServiceDescriptor
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: Callable[[Callable[[], UnitOfWork]], Any]


def grpc_service(
    pb2: ModuleType, pb2_grpc: ModuleType, name: str, servicer: Callable[..., Any]
) -> GrpcService:
    """The service `name` of a generated module pair, served by `servicer`."""
    add_to_server = getattr(pb2_grpc, f"add_{name}Servicer_to_server")
    return GrpcService(pb2.DESCRIPTOR.services_by_name[name], add_to_server, servicer)


@dataclass(frozen=True)
class Job:
    """Work a service does on a clock rather than on request, e.g. announcing
    SLA breaches. `run` does what is due at the given time, in its own units
    of work, and must be safe to run on several replicas at once."""

    name: str
    run: Callable[[Callable[[], UnitOfWork], datetime], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """Everything that differs between services."""

    name: str
    migrations: Path
    services: Sequence[GrpcService]
    subscriptions: Sequence[Subscription] = field(default=())
    # The read models those subscriptions keep, which `crm events rebuild` remakes.
    read_models: Sequence[ReadModel] = field(default=())
    jobs: Sequence[Job] = field(default=())
    # Who may call each RPC (crm_common.auth.roles); an RPC missing here is refused.
    permissions: PermissionTable = field(default_factory=dict)


def main(spec: ServiceSpec) -> None:
    suite = SuiteSettings()
    settings = load_service_settings(spec.name)
    configure_logging(spec.name, suite.log_level)
    tracing = configure_tracing(spec.name, settings.traces_file)
    try:
        asyncio.run(serve(spec, settings, suite))
    finally:
        tracing.shutdown()  # exports the spans still batched


# Allocations between young-generation collections (CPython's default: 700).
# Each request and each event allocates thousands of short-lived objects; at
# the default the collector ran so often that it took a fifth of the contacts
# process's CPU during an import, most of it walking objects that live as long
# as the process.
_GC_YOUNG_THRESHOLD = 20_000


def _tune_garbage_collection() -> None:
    """What start-up built (modules, descriptors, wiring) lives as long as the
    process: moved out of the collector's sight, it is never walked again."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, older, oldest)


async def serve(spec: ServiceSpec, settings: ServiceSettings, suite: SuiteSettings) -> None:
    if settings.migrate_on_start:
        await upgrade_to_head(settings.database_url, spec.migrations)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    runtime = Runtime(spec.name, settings, engine, sessions, OutboxRelay(sessions))

    try:
        auth = AuthInterceptor(verifier_from_settings(suite), by_method_path(spec.permissions))
    except AuthConfigError as error:
        raise SystemExit(f"{spec.name}: {error}") from None
    server = grpc.aio.server(
        # Telemetry first (outermost): it records the status the client gets,
        # refusals by auth included. The call context (for audit entries) comes
        # after auth, which sets the caller it attributes changes to.
        interceptors=[
            TelemetryInterceptor(),
            auth,
            CallContextInterceptor(),
            ErrorMappingInterceptor(),
        ],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            NO_SHARED_PORT,
        ],
    )
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    service_names = [service.descriptor.full_name for service in spec.services]
    reflection.enable_server_reflection(
        [
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    for service in spec.services:
        service.add_to_server(service.servicer(runtime.unit_of_work), server)
    try:
        port = transport.listen(server, settings.listen_address, suite)
        security_options(suite)  # refuses bad NATS settings now, not in the background
    except (transport.TlsConfigurationError, NatsSecurityError) as error:
        raise SystemExit(f"cannot start: {error}") from None
    if port == 0:
        raise SystemExit(f"cannot listen on {settings.listen_address}")

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    metrics_server = serve_metrics(settings.metrics_address) if settings.metrics_address else None
    messaging = Messaging(spec, runtime, suite)
    _tune_garbage_collection()
    await server.start()
    probes = await _serve_probes(health, settings.health_address)
    log.info("serving", extra={"address": settings.listen_address, "services": service_names})
    messaging.start()
    readiness = asyncio.create_task(
        _report_readiness(health, ["", *service_names], engine, messaging, stopping)
    )
    jobs = [
        asyncio.create_task(_every(suite.jobs_interval_seconds, job, runtime, stopping))
        for job in spec.jobs
    ]
    if metrics_server is not None:
        jobs.append(asyncio.create_task(report_outbox(sessions, stopping)))
    await stopping.wait()

    log.info("draining")
    await _set_all(health, ["", *service_names], health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.stop(settings.shutdown_grace_seconds)
    if probes is not None:
        await probes.stop(0)
    await asyncio.gather(*jobs)
    await messaging.stop()
    readiness.cancel()
    await asyncio.gather(readiness, return_exceptions=True)
    await engine.dispose()
    if metrics_server is not None:
        metrics_server.shutdown()
    log.info("stopped")


class Messaging:
    """The service's NATS side: connection, streams, relay and consumers."""

    def __init__(self, spec: ServiceSpec, runtime: Runtime, suite: SuiteSettings) -> None:
        self._spec = spec
        self._runtime = runtime
        self._suite = suite
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.client: Client | None = None

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="messaging")

    async def _run(self) -> None:
        try:
            self.client = await connect(
                self._suite.nats_url, self._spec.name, security_options(self._suite)
            )
            js = self.client.jetstream()
            await self._ensure_streams(js)
            retry = RetryPolicy(
                max_attempts=self._suite.consumer_max_attempts,
                base_seconds=self._suite.consumer_retry_base_seconds,
            )
            consumers = [
                EventConsumer(self._spec.name, subscription, self._runtime.unit_of_work, retry)
                for subscription in self._spec.subscriptions
            ]
            gauges = (
                [report_consumers(js, consumers, self._stop)]
                if self._runtime.settings.metrics_address
                else []
            )
            await asyncio.gather(
                self._runtime.relay.run(js, self._stop),
                *(_until_stopped(consumer.run, js, self._stop) for consumer in consumers),
                *gauges,
            )
            await self._flush_outbox(js)
        finally:
            if self.client is not None and not self.client.is_closed:
                await self.client.close()

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Lets the relay flush and consumers finish their message, then closes."""
        self._stop.set()
        if self._task is None:
            return
        if self.client is None:
            self._task.cancel()  # still waiting for a first connection
        done, _ = await asyncio.wait([self._task], timeout=grace_seconds)
        if not done:
            log.warning("messaging did not stop in time")
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _ensure_streams(self, js: object) -> None:
        replicas = self._suite.stream_replicas
        sources = {self._spec.name, *(s.source for s in self._spec.subscriptions)}
        configs = [event_stream_config(source, replicas) for source in sorted(sources)]
        configs.append(dead_letter_stream_config(replicas))
        while not self._stop.is_set():
            try:
                for config in configs:
                    await ensure_stream(js, config)
                return
            except (NatsError, TimeoutError) as error:
                log.warning("cannot set up streams yet", extra={"error": repr(error)})
                await asyncio.sleep(0.5)

    async def _flush_outbox(self, js: object) -> None:
        """Publishes what the last requests committed before the process exits."""
        if not self.connected:
            return
        try:
            while await self._runtime.relay.publish_pending(js):
                pass
        except (NatsError, TimeoutError) as error:
            log.warning("outbox left for the next start", extra={"error": repr(error)})


async def _until_stopped(run: Callable, js: object, stop: asyncio.Event) -> None:
    """Keeps a consumer going across broker outages until the service stops."""
    while not stop.is_set():
        try:
            await run(js, stop)
        except (NatsError, TimeoutError) as error:
            log.warning("consumer restarting", extra={"error": repr(error)})
            await asyncio.sleep(0.5)


async def _every(
    interval_seconds: float, job: Job, runtime: Runtime, stopping: asyncio.Event
) -> None:
    """Runs a job each interval until the service stops; a failed run is logged and
    the next one tries again, since a job picks up whatever is due."""
    while not stopping.is_set():
        try:
            # A trace per run: the events it announces carry it to their consumers.
            with tracer.start_as_current_span(f"job {job.name}"):
                await job.run(runtime.unit_of_work, datetime.now(UTC))
        except Exception:
            log.exception("job failed", extra={"job": job.name})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_seconds)


async def _report_readiness(
    health: health_aio.HealthServicer,
    names: list[str],
    engine: AsyncEngine,
    messaging: Messaging,
    stopping: asyncio.Event,
) -> None:
    current = None
    while not stopping.is_set():
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if messaging.connected and await _database_answers(engine)
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        if status != current and not stopping.is_set():
            await _set_all(health, names, status)
            log.info(
                "health",
                extra={"status": health_pb2.HealthCheckResponse.ServingStatus.Name(status)},
            )
            current = status
        await asyncio.sleep(0.5)


async def _serve_probes(health: health_aio.HealthServicer, address: str) -> grpc.aio.Server | None:
    """Health alone, in plaintext, on its own port: Kubernetes' gRPC probes cannot
    speak TLS, and this port answers nothing else. None when no address is set."""
    if not address:
        return None
    probes = grpc.aio.server(options=[NO_SHARED_PORT])
    health_pb2_grpc.add_HealthServicer_to_server(health, probes)
    try:
        probes.add_insecure_port(address)
    except RuntimeError:
        raise SystemExit(f"cannot listen on {address} for health probes") from None
    await probes.start()
    return probes


async def _database_answers(engine: AsyncEngine) -> bool:
    try:
        await asyncio.wait_for(ping(engine), 2.0)
    except Exception:
        return False
    return True


async def _set_all(health: health_aio.HealthServicer, names: list[str], status: int) -> None:
    for name in names:
        await health.set(name, status)
