"""`crm up`: the whole suite on this machine, one NATS and four service processes.

Each service runs as its own `python -m crm_<name>.main` child with the same
environment variables a deployment would give it, so what works here works
there. Pure planning (ports, environments, the table) is kept apart from the
process handling so it can be tested without starting anything.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from crm_cli.auth import dev_auth_environment, dev_credentials
from crm_cli.certs import CertificateFiles, make_certificates
from crm_cli.processes import READY_TIMEOUT, ServiceProcess
from crm_cli.servers import LOOPBACK, STOP_TIMEOUT, NatsServer, NatsTls, ServerError, log_tail
from crm_cli.tables import format_table
from crm_common.config import DEFAULT_PORTS

# Services start, and appear in the table, in crm_common's DEFAULT_PORTS order.
DEFAULT_NATS_PORT = 4222
POLL_INTERVAL = 0.2


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
        for name, default in DEFAULT_PORTS.items()
    }
    taken = {"CRM_NATS_PORT": nats_port(env)}
    for name, port in ports.items():
        owner = next((key for key, used in taken.items() if used == port), None)
        if owner is not None:
            raise ValueError(f"CRM_{name.upper()}_PORT={port} clashes with {owner}")
        taken[f"CRM_{name.upper()}_PORT"] = port
    return ports


def service_env(
    name: str, var_dir: Path, nats_url: str, base_env: Mapping[str, str]
) -> dict[str, str]:
    """The child's environment: the caller's, plus where to store and publish.

    The listen address is ServiceProcess's to add.
    """
    env = dict(base_env)
    # An explicit database (say PostgreSQL) wins; SQLite needs no server.
    env.setdefault(
        f"CRM_{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{var_dir / f'{name}.db'}"
    )
    env["CRM_NATS_URL"] = nats_url
    return env


def plan_services(var_dir: Path, nats_url: str, env: Mapping[str, str]) -> list[ServiceProcess]:
    """One (not yet started) process per service, in DEFAULT_PORTS' order; each
    knows where the others listen (a service calling another reads its
    CRM_<SERVICE>_TARGET), unless the caller's environment says otherwise."""
    var_dir = var_dir.resolve()
    ports = service_ports(env)
    targets = {f"CRM_{name.upper()}_TARGET": f"{LOOPBACK}:{port}" for name, port in ports.items()}
    return [
        ServiceProcess(
            name,
            f"{LOOPBACK}:{port}",
            service_env(name, var_dir, nats_url, {**targets, **env}),
            var_dir / "logs" / f"{name}.log",
        )
        for name, port in ports.items()
    ]


def summary(
    nats: NatsServer, services: Sequence[ServiceProcess], certificates: CertificateFiles | None
) -> str:
    rows = [("NAME", "ADDRESS", "PID", "LOG")]
    rows.append(("nats", nats.url, str(nats.pid), str(nats.log_path)))
    rows += [(s.service, s.address, str(s.pid), str(s.log_path)) for s in services]
    first = services[0].address if services else f"{LOOPBACK}:{DEFAULT_PORTS['contacts']}"
    if certificates is None:
        listing = f"List a service's API:  grpcurl -plaintext {first} list\n"
    else:
        files = certificates
        listing = (
            "Mutual TLS: call with the dev client certificate, e.g.\n"
            + "".join(
                f"  export {key}={value}\n" for key, value in files.client_environment().items()
            )
            + f"  grpcurl -cacert {files.ca} -cert {files.client_cert} -key {files.client_key} "
            f"{first} list\n"
        )
    return (
        f"{format_table(rows)}\n\n"
        f"{listing}"
        f"NATS monitoring:       {nats.monitor_url}\n"
        "Press Ctrl-C to stop the suite."
    )


def dev_certificates(var_dir: Path) -> CertificateFiles:
    """The certificates `crm dev certs` made under VAR_DIR/certs, made now if missing."""
    files = CertificateFiles(var_dir / "certs")
    if not files.exist():
        make_certificates(files.folder)
    return files


# ------------------------------------------------------------------ processes


def supervise(nats: NatsServer, services: Sequence[ServiceProcess], stop: threading.Event) -> None:
    """Returns when a stop is asked for; raises ServerError when a process dies."""
    while not stop.wait(POLL_INTERVAL):
        for service in services:
            service.check_running()
        if not nats.running:
            raise ServerError(
                f"nats-server died; last lines of {nats.log_path}:\n{log_tail(nats.log_path)}"
            )


def stop_services(services: Sequence[ServiceProcess]) -> None:
    # SIGTERM to all first so they drain in parallel, then wait for each.
    for service in services:
        service.terminate()
    for service in services:
        service.stop(STOP_TIMEOUT)


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


def run_suite(var_dir: Path, *, tls: bool = False) -> int:
    """Runs NATS and the four services until Ctrl-C/SIGTERM; 0 on a clean stop.

    With `tls`, gRPC and NATS both use mutual TLS with the dev certificates.
    """
    var_dir = var_dir.resolve()
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(dev_auth_environment(var_dir, env))
    certificates = dev_certificates(var_dir) if tls else None
    if certificates is not None:
        env.update(certificates.environment())
    try:
        nats = NatsServer(
            var_dir / "nats",
            port=nats_port(env),
            log_path=var_dir / "logs" / "nats.log",
            tls=NatsTls(certificates.server_cert, certificates.server_key, certificates.ca)
            if certificates
            else None,
        )
        services = plan_services(var_dir, nats.url, env)
    except ValueError as error:
        print(f"crm up: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    with stop_on_signals(stop):
        return _run(nats, services, stop, certificates)


def _run(
    nats: NatsServer,
    services: Sequence[ServiceProcess],
    stop: threading.Event,
    certificates: CertificateFiles | None,
) -> int:
    try:
        nats.start()
        for service in services:
            service.start(wait_serving=False)
        # Started together above and only then awaited, so boots overlap.
        if all(service.wait_serving(READY_TIMEOUT, stop) for service in services):
            print(dev_credentials(services[0].env), flush=True)
            print(summary(nats, services, certificates), flush=True)
            supervise(nats, services, stop)
        print("crm up: stopping", file=sys.stderr, flush=True)
        return 0
    except ServerError as error:
        print(f"crm up: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_services(services)
        nats.stop()
