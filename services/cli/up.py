"""`crm up`: the whole suite on this machine, one NATS and four service processes.

Each service runs as its own `python -m crm_<name>.main` child with the same
environment variables a deployment would give it, so what works here works
there. Pure planning (ports, environments, the table) is kept apart from the
process handling so it can be tested without starting anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_cli.servers import LOOPBACK, NatsServer, ServerError, log_tail, stop_process

# Service name -> default gRPC port; the order is the order of start and table rows.
SERVICE_PORTS: dict[str, int] = {
    "contacts": 50051,
    "sales": 50052,
    "projects": 50053,
    "support": 50054,
}
DEFAULT_NATS_PORT = 4222
READY_TIMEOUT = 30.0
POLL_INTERVAL = 0.2
STOP_TIMEOUT = 10.0


class LaunchError(RuntimeError):
    """A service did not come up or died; the message says which and why."""


@dataclass(frozen=True)
class ServiceSpec:
    """Everything needed to start one service process."""

    name: str
    port: int
    log_path: Path
    env: Mapping[str, str]

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", f"crm_{self.name}.main"]


# ----------------------------------------------------------------- pure planning


def port_from_env(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{key}={port} is outside 1-65535")
    return port


def nats_port(env: Mapping[str, str]) -> int:
    return port_from_env(env, "CRM_NATS_PORT", DEFAULT_NATS_PORT)


def service_ports(env: Mapping[str, str]) -> dict[str, int]:
    """Each service's port from `CRM_<NAME>_PORT`; refuses clashes up front.

    A clash would otherwise surface as one service failing to bind, with the
    cause buried in its log.
    """
    ports = {
        name: port_from_env(env, f"CRM_{name.upper()}_PORT", default)
        for name, default in SERVICE_PORTS.items()
    }
    taken = {"CRM_NATS_PORT": nats_port(env)}
    for name, port in ports.items():
        owner = next((key for key, used in taken.items() if used == port), None)
        if owner is not None:
            raise ValueError(f"CRM_{name.upper()}_PORT={port} clashes with {owner}")
        taken[f"CRM_{name.upper()}_PORT"] = port
    return ports


def service_env(
    name: str, port: int, var_dir: Path, nats_url: str, base_env: Mapping[str, str]
) -> dict[str, str]:
    """The child's environment: the caller's, plus where to listen, store and publish."""
    prefix = f"CRM_{name.upper()}"
    env = dict(base_env)
    env[f"{prefix}_LISTEN_ADDRESS"] = f"{LOOPBACK}:{port}"
    # An explicit database (say PostgreSQL) wins; SQLite needs no server.
    env.setdefault(f"{prefix}_DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / f'{name}.db'}")
    env["CRM_NATS_URL"] = nats_url
    # Unbuffered, so the log file shows a crash's last words.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def plan_services(var_dir: Path, nats_url: str, env: Mapping[str, str]) -> list[ServiceSpec]:
    var_dir = var_dir.resolve()
    return [
        ServiceSpec(
            name=name,
            port=port,
            log_path=var_dir / "logs" / f"{name}.log",
            env=service_env(name, port, var_dir, nats_url, env),
        )
        for name, port in service_ports(env).items()
    ]


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, the first row being the header."""
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def summary(nats: NatsServer, specs: Sequence[ServiceSpec], pids: Mapping[str, int]) -> str:
    rows = [("NAME", "ADDRESS", "PID", "LOG")]
    rows.append(("nats", nats.url, str(nats.pid), str(nats.log_path)))
    rows += [(s.name, s.address, str(pids[s.name]), str(s.log_path)) for s in specs]
    first = specs[0].address if specs else f"{LOOPBACK}:{SERVICE_PORTS['contacts']}"
    return (
        f"{format_table(rows)}\n\n"
        f"List a service's API:  grpcurl -plaintext {first} list\n"
        f"NATS monitoring:       {nats.monitor_url}\n"
        "Press Ctrl-C to stop the suite."
    )


# ------------------------------------------------------------------ processes


def start_service(spec: ServiceSpec) -> subprocess.Popen[bytes]:
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    with spec.log_path.open("ab") as log:
        log.write(f"--- crm up: starting {spec.name} at {time.ctime()} ---\n".encode())
        log.flush()
        # A session of its own: Ctrl-C reaches only the launcher, which then
        # stops the services before NATS rather than all at once.
        return subprocess.Popen(
            spec.command,
            env=dict(spec.env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def is_serving(stub: health_pb2_grpc.HealthStub) -> bool:
    try:
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def wait_serving(
    spec: ServiceSpec,
    proc: subprocess.Popen[bytes],
    stop: threading.Event,
    timeout: float = READY_TIMEOUT,
) -> bool:
    """True once the service reports SERVING, False if a stop was asked for meanwhile."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(spec.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while not is_serving(stub):
            if proc.poll() is not None:
                raise LaunchError(died_message(spec, proc.returncode))
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"{spec.name} did not report SERVING on {spec.address} within "
                    f"{timeout:.0f}s; last lines of {spec.log_path}:\n{log_tail(spec.log_path)}"
                )
            if stop.wait(POLL_INTERVAL):
                return False
    return True


def died_message(spec: ServiceSpec, code: int | None) -> str:
    return (
        f"{spec.name} exited with code {code}; last lines of {spec.log_path}:\n"
        f"{log_tail(spec.log_path)}"
    )


def supervise(
    nats: NatsServer,
    specs: Sequence[ServiceSpec],
    procs: Mapping[str, subprocess.Popen[bytes]],
    stop: threading.Event,
) -> None:
    """Returns when a stop is asked for; raises LaunchError when a process dies."""
    while not stop.wait(POLL_INTERVAL):
        for spec in specs:
            code = procs[spec.name].poll()
            if code is not None:
                raise LaunchError(died_message(spec, code))
        if not nats.running:
            raise LaunchError(
                f"nats-server died; last lines of {nats.log_path}:\n{log_tail(nats.log_path)}"
            )


def stop_services(procs: Mapping[str, subprocess.Popen[bytes]]) -> None:
    # SIGTERM to all first so they drain in parallel, then wait for each.
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        stop_process(proc, STOP_TIMEOUT)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turns Ctrl-C and SIGTERM into `stop` being set, for the duration.

    An event rather than KeyboardInterrupt, so that a second Ctrl-C cannot
    break off the shutdown halfway and leave orphaned services behind.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_suite(var_dir: Path) -> int:
    """Runs NATS and the four services until Ctrl-C/SIGTERM; 0 on a clean stop."""
    var_dir = var_dir.resolve()
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    try:
        nats = NatsServer(
            var_dir / "nats", port=nats_port(env), log_path=var_dir / "logs" / "nats.log"
        )
        specs = plan_services(var_dir, nats.url, env)
    except ValueError as error:
        print(f"crm up: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    with stop_on_signals(stop):
        return _run(nats, specs, stop)


def _run(nats: NatsServer, specs: Sequence[ServiceSpec], stop: threading.Event) -> int:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        nats.start()
        for spec in specs:
            procs[spec.name] = start_service(spec)
        # Started together above and only then awaited, so boots overlap.
        if all(wait_serving(spec, procs[spec.name], stop) for spec in specs):
            print(summary(nats, specs, {name: p.pid for name, p in procs.items()}), flush=True)
            supervise(nats, specs, procs, stop)
        print("crm up: stopping", file=sys.stderr, flush=True)
        return 0
    except (LaunchError, ServerError) as error:
        print(f"crm up: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_services(procs)
        nats.stop()
