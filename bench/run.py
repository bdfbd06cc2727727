"""One benchmark run: per backend, fresh servers, the figures, then rows."""

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import figures, import_replay, scale_suite
from bench.cpu import CpuMeter, one, with_children
from bench.entities import ENTITIES, SERVICES
from bench.figures import Counts
from bench.load import Latencies, Load
from bench.processes import (
    Databases,
    scratch_folder,
    start_echo,
    start_nats,
    start_postgres,
    start_services,
)
from bench.report import CpuLine, Row, entity_rows, memory_rows, propagation_rows, relay_rows
from crm_cli.servers import NatsServer, PostgresServer


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    cpu: list[CpuLine] = field(default_factory=list)
    # Per backend: what the rows summarise (every round, every sample).
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, backend: str, other: "Results") -> None:
        self.rows += other.rows
        self.cpu += other.cpu
        self.details.setdefault(backend, {}).update(other.details)


@dataclass(frozen=True)
class Backend:
    """What every stage of one backend's run gets.

    `nats` is this backend's broker, shared by its stages; a stage that needs
    a broker (or anything else) of its own starts it and stops it itself.
    """

    name: str
    counts: Counts
    quick: bool
    folder: Path
    logs: Path
    postgres: PostgresServer | None
    databases: Databases
    nats: NatsServer


# A stage measures one group of figures on one backend and returns its rows,
# CPU lines and JSON details (`Results.details` keyed by nothing: the run
# files them under the backend). Stages run in this order, per backend.
Stage = Callable[[Backend], Results]


def run(backends: list[str], counts: Counts, keep: bool, quick: bool) -> Results:
    with scratch_folder("crm-bench-", keep, say) as folder, contextlib.ExitStack() as stack:
        postgres = None
        if "postgresql" in backends:
            say("starting PostgreSQL")
            postgres = start_postgres(stack, folder / "postgres")
        results = Results()
        for backend in backends:
            run_backend(backend, counts, quick, folder / backend, postgres, results)
        if postgres is not None:
            results.add("postgresql", scale_stage(postgres, folder / "scale", quick))
        return results


def run_backend(
    name: str,
    counts: Counts,
    quick: bool,
    folder: Path,
    postgres: PostgresServer | None,
    results: Results,
) -> None:
    say(f"{name}: load average before {_load()}")
    with contextlib.ExitStack() as stack:
        # A broker of its own per backend: the services' durable consumers
        # would otherwise replay the other backend's events into new databases.
        say(f"{name}: starting nats-server")
        nats = start_nats(stack, folder / "nats")
        backend = Backend(
            name,
            counts,
            quick,
            folder,
            folder / "logs",
            postgres,
            Databases(name, folder / "sqlite", postgres),
            nats,
        )
        for stage in STAGES:
            start = time.monotonic()
            results.add(name, stage(backend))
            say(f"{name}: {stage.__name__} took {time.monotonic() - start:.0f} s")
    say(f"{name}: load average after {_load()}")


def broker_stage(backend: Backend) -> Results:
    """Raw windowed JetStream publishing against the outbox relay, in-process."""
    name = backend.name
    say(f"{name}: raw JetStream, outbox relay (in-process)")
    broker = asyncio.run(
        figures.broker_figures(backend.nats.url, backend.databases.new("relay"), backend.counts)
    )
    say(f"{name}: raw {_rates(broker.raw_rates)}/s, relay {_rates(broker.relay_rates)}/s")
    details = {
        "event_body_bytes": broker.body_bytes,
        "events_per_round": broker.events,
        "raw_jetstream_rates": broker.raw_rates,
        "relay_rates": broker.relay_rates,
    }
    return Results(relay_rows(name, broker), [], details)


def services_stage(backend: Backend) -> Results:
    """Echo, then the four services: Create/Get, propagation idle and loaded, memory."""
    name, counts = backend.name, backend.counts
    say(f"{name}: JetStream delivery latency (propagation's baseline)")
    delivery = asyncio.run(figures.delivery_figure(backend.nats.url, counts))
    with contextlib.ExitStack() as echo_stack:
        say(f"{name}: echo baseline")
        echo = start_echo(echo_stack, backend.logs)
        meter = CpuMeter({"client": one(os.getpid()), "echo": one(echo.pid)})
        echo_figures = asyncio.run(
            figures.echo_figures(echo.address, counts, meter, with_children(echo.pid))
        )
    for concurrency, load in echo_figures.loads.items():
        say(f"{name}: echo c={concurrency} {load.rate:.0f} calls/s")

    with contextlib.ExitStack() as stack:
        say(f"{name}: starting {', '.join(SERVICES)}")
        databases = {service: backend.databases.new(service) for service in SERVICES}
        services = start_services(stack, databases, backend.nats, backend.logs)
        processes = {service: with_children(services[service].pid) for service in SERVICES}
        groups = {"client": one(os.getpid()), **processes, "nats-server": one(backend.nats.pid)}
        if backend.postgres is not None and name == "postgresql":
            groups["postgres"] = with_children(backend.postgres.pid)
        say(f"{name}: Create and Get of {len(ENTITIES)} entities, propagation, memory")
        service_figures = asyncio.run(
            figures.service_figures(
                {service: process.address for service, process in services.items()},
                backend.nats.url,
                databases,
                counts,
                CpuMeter(groups),
                processes,
            )
        )
    say(f"{name}: waited {service_figures.settle_seconds:.1f} s in all for the suite to settle")
    for loads in service_figures.entities:
        entity = loads.entity
        say(
            f"{name}: {entity.name} creates "
            + ", ".join(f"c={c} {load.rate:.0f}/s" for c, load in loads.creates.items())
            + "; gets "
            + ", ".join(f"c={c} {load.rate:.0f}/s" for c, load in loads.gets.items())
        )
    return Results(
        [
            *entity_rows(name, echo_figures.loads, service_figures),
            *propagation_rows(name, echo_figures.loads, service_figures, delivery),
            *memory_rows(name, echo_figures.memory, service_figures.memory),
        ],
        _cpu_lines(name, echo_figures.loads, service_figures),
        _service_details(delivery, echo_figures, service_figures),
    )


def import_replay_stage(backend: Backend) -> Results:
    """ImportContacts of N rows, then rebuilding support's customers from N events."""
    count = import_replay.QUICK_COUNT if backend.quick else import_replay.FULL_COUNT
    postgres_pid = (
        backend.postgres.pid if backend.postgres and backend.name == "postgresql" else None
    )
    results = Results()
    for measure in (import_replay.import_figures, import_replay.replay_figures):
        say(f"{backend.name}: {measure.__name__} of {count:,}")
        found = asyncio.run(
            measure(
                backend.name,
                backend.databases,
                backend.folder / measure.__name__,
                count,
                postgres_pid,
            )
        )
        results.rows += found.rows
        results.details.update(found.details)
    return results


STAGES: list[Stage] = [broker_stage, services_stage, import_replay_stage]


def scale_stage(postgres: PostgresServer, folder: Path, quick: bool) -> Results:
    """The queries at scale, on PostgreSQL only: the issue asks for them there."""
    sizes = scale_suite.QUICK_SIZES if quick else scale_suite.FULL_SIZES
    say(f"postgresql: queries at {' and '.join(f'{size:,}' for size in sizes)} rows")
    scale = scale_suite.scale_figures(postgres, folder, sizes, quick)
    return Results(scale.rows, scale.cpu, {"scale": scale.details})


def _cpu_lines(
    backend: str, echo: dict[int, Load], services: figures.ServiceFigures
) -> list[CpuLine]:
    lines = [CpuLine(backend, f"echo c={c}", load, "echo") for c, load in echo.items()]
    for loads in services.entities:
        entity = loads.entity
        for method, by_concurrency in (
            (entity.create_method, loads.creates),
            (entity.get_method, loads.gets),
        ):
            lines += [
                CpuLine(backend, f"{method} c={c}", load, entity.service)
                for c, load in by_concurrency.items()
            ]
    background = services.background
    lines.append(
        CpuLine(backend, f"mixed creates c={background.concurrency} (propagation)", background, "")
    )
    return lines


def _service_details(
    delivery: Latencies, echo: figures.EchoFigures, services: figures.ServiceFigures
) -> dict[str, Any]:
    idle, loaded = services.propagation, services.loaded_propagation
    return {
        "delivery_ms": delivery.ms,
        "propagation_ms": idle.total.ms,
        "propagation_relay_leg_ms": idle.to_broker.ms,
        "propagation_support_leg_ms": idle.to_visible.ms,
        "loaded_propagation_ms": loaded.total.ms,
        "loaded_propagation_timed_out": loaded.timed_out,
        "loaded_propagation_relay_leg_ms": loaded.to_broker.ms,
        "loaded_propagation_support_leg_ms": loaded.to_visible.ms,
        "settle_seconds": services.settle_seconds,
        "loaded_background_calls": services.background.calls,
        "loaded_background_calls_per_second": services.background.rate,
        "rss_mb": {
            "echo": {"idle": echo.memory.idle, "loaded": echo.memory.loaded},
            **{
                service: {
                    "idle": services.memory.idle[service],
                    "loaded": services.memory.loaded[service],
                    "after": services.memory.after[service],
                    "high_water": services.memory.high_water[service],
                }
                for service in services.memory.idle
            },
        },
    }


def _rates(rates: tuple[float, ...]) -> str:
    return " ".join(f"{rate:.0f}" for rate in rates)


def _load() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
