"""One benchmark run: per backend, fresh servers, the figures, then rows."""

import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import figures
from bench.cpu import CpuMeter, one, with_children
from bench.figures import Counts
from bench.load import Load
from bench.processes import (
    Databases,
    start_echo,
    start_nats,
    start_postgres,
    start_services,
)
from bench.report import CpuLine, Row, rows_for
from crm_cli.servers import NatsServer, PostgresServer


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    cpu: list[CpuLine] = field(default_factory=list)
    # Per backend: what the rows summarise (every round, every sample).
    details: dict[str, Any] = field(default_factory=dict)


def run(backends: list[str], counts: Counts, keep: bool) -> Results:
    folder = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    failed = False
    try:
        with contextlib.ExitStack() as stack:
            postgres = None
            if "postgresql" in backends:
                say("starting PostgreSQL")
                postgres = start_postgres(stack, folder / "postgres")
            results = Results()
            for backend in backends:
                run_backend(backend, counts, folder / backend, postgres, results)
        return results
    except Exception:
        failed = True
        raise
    finally:
        if keep or failed:
            say(f"logs and data kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run_backend(
    backend: str,
    counts: Counts,
    folder: Path,
    postgres: PostgresServer | None,
    results: Results,
) -> None:
    logs = folder / "logs"
    say(f"{backend}: load average before {_load()}")
    databases = Databases(backend, folder / "sqlite", postgres)
    with contextlib.ExitStack() as stack:
        # A broker of its own per backend: support's durable consumer would
        # otherwise replay the other backend's events into its new database.
        say(f"{backend}: starting nats-server")
        nats = start_nats(stack, folder / "nats")

        say(f"{backend}: raw JetStream, outbox relay (in-process), delivery latency")
        broker = asyncio.run(figures.broker_figures(nats.url, databases.new("relay"), counts))
        say(
            f"{backend}: raw {_rates(broker.raw_rates)}/s, relay {_rates(broker.relay_rates)}/s, "
            f"delivery p50 {broker.delivery.p50:.2f} ms"
        )

        with contextlib.ExitStack() as echo_stack:
            say(f"{backend}: echo baseline")
            echo = start_echo(echo_stack, logs)
            meter = CpuMeter({"client": one(os.getpid()), "server": one(echo.pid)})
            echo_loads = asyncio.run(figures.echo_loads(echo.address, counts, meter))
        for concurrency, load in echo_loads.items():
            say(f"{backend}: echo c={concurrency} {load.rate:.0f} calls/s")

        say(f"{backend}: starting contacts and support")
        services = start_services(
            stack,
            {"contacts": databases.new("contacts"), "support": databases.new("support")},
            nats,
            logs,
        )
        say(f"{backend}: CreatePerson, GetPerson, propagation")
        groups = {
            "client": one(os.getpid()),
            "server": one(services["contacts"].pid),
            "support": one(services["support"].pid),
            "nats-server": one(nats.pid),
        }
        if backend == "postgresql" and postgres is not None:
            groups["postgres"] = with_children(postgres.pid)
        service_figures = asyncio.run(
            figures.service_figures(
                services["contacts"].address,
                services["support"].address,
                nats.url,
                counts,
                CpuMeter(groups),
            )
        )
        for concurrency in figures.CONCURRENCIES:
            say(
                f"{backend}: c={concurrency} CreatePerson "
                f"{service_figures.creates[concurrency].rate:.0f}/s, GetPerson "
                f"{service_figures.gets[concurrency].rate:.0f}/s"
            )
    say(f"{backend}: load average after {_load()}")
    loads: list[tuple[str, Load]] = [
        *((f"echo c={c}", load) for c, load in echo_loads.items()),
        *((f"CreatePerson c={c}", load) for c, load in service_figures.creates.items()),
        *((f"GetPerson c={c}", load) for c, load in service_figures.gets.items()),
    ]
    results.cpu += [CpuLine(backend, name, load) for name, load in loads]
    results.rows += rows_for(backend, echo_loads, service_figures, broker)
    propagation = service_figures.propagation
    results.details[backend] = {
        "event_body_bytes": broker.body_bytes,
        "events_per_round": broker.events,
        "raw_jetstream_rates": broker.raw_rates,
        "relay_rates": broker.relay_rates,
        "delivery_ms": broker.delivery.ms,
        "propagation_ms": propagation.total.ms,
        "propagation_relay_leg_ms": propagation.to_broker.ms,
        "propagation_support_leg_ms": propagation.to_visible.ms,
    }


def _rates(rates: tuple[float, ...]) -> str:
    return " ".join(f"{rate:.0f}" for rate in rates)


def _load() -> str:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine(backends: list[str], quick: bool, counts: Counts) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if quick else "default",
        "backends": backends,
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "grpcio": metadata.version("grpcio"),
        "nats-py": metadata.version("nats-py"),
        "sqlalchemy": metadata.version("sqlalchemy"),
        "nats-server": _version(
            [NatsServer(Path(tempfile.gettempdir())).command()[0], "--version"]
        ),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "counts": counts.__dict__,
        "notes": [
            "client, servers and broker share the machine's cores (loopback only)",
            "outbox relay figure runs in the benchmark process (in-process), not in a service",
            f"propagation polls GetCustomer every {figures.PROPAGATION_POLL * 1000:g} ms "
            "(asyncio sleeps round up to 1 ms)",
            "CPU percentages come from /proc at 100 Hz ticks: a few percent either way",
        ],
    }
    if "postgresql" in backends:
        with contextlib.suppress(Exception):
            from crm_cli.servers import find_postgres_bin

            meta["postgresql"] = _version([str(find_postgres_bin() / "postgres"), "--version"])
    return meta


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
