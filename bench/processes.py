"""Starting what a benchmark needs, and stopping all of it whatever happens.

Everything is started through the project's own classes (`NatsServer`,
`PostgresServer`, `ServiceProcess`), registered for stopping *before* it
starts, so an error or Ctrl-C half-way through a start still stops it.
"""

import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import grpc

from crm_cli.processes import ServiceProcess
from crm_cli.servers import LOOPBACK, NatsServer, PostgresServer, free_port
from crm_common.auth.client import BearerTokenInterceptor
from crm_common.auth.roles import ADMIN
from crm_common.auth.tokens import mint_token, new_dev_secret
from crm_common.config import SuiteSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


class EchoProcess(ServiceProcess):
    """The echo baseline (`python -m bench.echo_server`) as a `ServiceProcess`."""

    def __init__(self, log_path: Path) -> None:
        # bench is no installed package: the child finds it through PYTHONPATH.
        super().__init__(
            "echo", f"{LOOPBACK}:{free_port()}", {"PYTHONPATH": str(REPO_ROOT)}, log_path
        )

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.echo_server"]


class Databases:
    """A fresh database per use on one backend."""

    def __init__(self, backend: str, folder: Path, postgres: PostgresServer | None) -> None:
        self.backend = backend
        self._folder = folder
        self._postgres = postgres
        self._count = 0

    def new(self, purpose: str) -> str:
        self._count += 1
        name = f"bench_{purpose}_{self._count}_{time.monotonic_ns()}"
        if self.backend == "postgresql":
            assert self._postgres is not None
            return self._postgres.create_database(name)
        return f"sqlite+aiosqlite:///{self._folder / name}.db"


@contextlib.contextmanager
def scratch_folder(prefix: str, keep: bool, say: Callable[[str], None]) -> Iterator[Path]:
    """A temporary folder for a run's servers, logs and data: removed afterwards,
    kept (and its path said) with `keep` or when the run fails."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    failed = False
    try:
        yield folder
    except Exception:
        failed = True
        raise
    finally:
        if keep or failed:
            say(f"logs and data kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _stop_quietly(what: str, stop: object) -> None:
    try:
        stop()  # type: ignore[operator]
    except Exception as error:  # cleanup must go on with the next one
        print(f"warning: stopping {what} failed: {error}", file=sys.stderr)


def start_nats(stack: contextlib.ExitStack, folder: Path) -> NatsServer:
    server = NatsServer(folder / "store", log_path=folder / "nats.log")
    stack.callback(_stop_quietly, "nats-server", server.stop)
    server.start()
    return server


def start_postgres(stack: contextlib.ExitStack, folder: Path) -> PostgresServer:
    server = PostgresServer(folder)
    stack.callback(_stop_quietly, "postgres", server.stop)
    server.start()
    return server


def start_echo(stack: contextlib.ExitStack, logs: Path) -> EchoProcess:
    echo = EchoProcess(logs / "echo.log")
    stack.callback(_stop_quietly, "echo server", echo.stop)
    echo.start()
    return echo


# The services a benchmark starts check tokens against this run's dev secret;
# the benchmark calls them as an admin.
_DEV_SECRET = new_dev_secret()
AUTH_ENVIRONMENT = {"CRM_AUTH_DEV_MODE": "true", "CRM_AUTH_DEV_SECRET": _DEV_SECRET}
ADMIN_TOKEN_TTL_SECONDS = 24 * 3600.0


def admin_token() -> str:
    """A token the services a benchmark started accept as an admin's."""
    settings = SuiteSettings()
    return mint_token(
        _DEV_SECRET,
        "bench",
        [ADMIN],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl_seconds=ADMIN_TOKEN_TTL_SECONDS,
    )


def admin_channel(address: str) -> grpc.aio.Channel:
    """A channel to a service a benchmark started, every unary call made as an admin."""
    token = admin_token()
    return grpc.aio.insecure_channel(address, interceptors=[BearerTokenInterceptor(lambda: token)])


def start_services(
    stack: contextlib.ExitStack,
    services: Mapping[str, str],
    nats: NatsServer,
    logs: Path,
) -> dict[str, ServiceProcess]:
    """Starts each service (name -> database URL) as its own process; all SERVING on return.

    Each knows where the others listen (`CRM_<SERVICE>_TARGET`, as `crm up` sets it).
    """
    addresses = {service: f"{LOOPBACK}:{free_port()}" for service in services}
    targets = {f"CRM_{service.upper()}_TARGET": address for service, address in addresses.items()}
    processes = {
        service: ServiceProcess(
            service,
            addresses[service],
            {
                "CRM_NATS_URL": nats.url,
                f"CRM_{service.upper()}_DATABASE_URL": url,
                **targets,
                **AUTH_ENVIRONMENT,
            },
            logs / f"{service}.log",
        )
        for service, url in services.items()
    }
    for service, process in processes.items():
        stack.callback(_stop_quietly, service, process.stop)
    for process in processes.values():
        process.start(wait_serving=False)
    for process in processes.values():
        process.wait_serving()
    return processes
