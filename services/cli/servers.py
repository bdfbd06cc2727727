"""Real NATS and PostgreSQL server processes on loopback.

Tests, benchmarks and `crm up` all need the same servers with the same
settings, so they start them through these classes rather than each keeping
its own shell recipe. Nothing here depends on pytest.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pwd
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn, Self

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT = 10.0
START_TIMEOUT = 30.0
POLL_INTERVAL = 0.05


class ServerError(RuntimeError):
    """A server binary is missing, failed to start, or failed to stop."""


# The ports free_port handed out last in this process: a server may not have
# bound one yet, so it is not handed out again soon.
_HANDED_OUT: collections.deque[int] = collections.deque(maxlen=256)
FREE_PORTS_ENV = "CRM_FREE_PORTS"


def free_port() -> int:
    """A TCP port nothing listens on right now (another process may still take it).

    With $CRM_FREE_PORTS ("LOW-HIGH") the port comes from that range, and never
    twice in a row from one process: parallel test workers each get a range of their own
    below the kernel's ephemeral ports, so no two of them pick the same port in
    the moment before its server binds it.
    """
    span = os.environ.get(FREE_PORTS_ENV, "")
    if not span:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            return int(sock.getsockname()[1])
    low, high = (int(bound) for bound in span.split("-"))
    for port in random.sample(range(low, high + 1), k=high + 1 - low):
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        _HANDED_OUT.append(port)
        return port
    raise ServerError(f"no free port left in {FREE_PORTS_ENV}={span}")


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for error messages; empty if there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM, then SIGKILL if the process outlives `timeout`; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls `check()` until it returns True; raises ServerError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ServerError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_INTERVAL)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        # Refused while the server boots, 503 until JetStream is ready.
        return False


class _Running(ABC):
    """A server that runs for the duration of a `with` block."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- NATS


@dataclass(frozen=True)
class NatsTls:
    """The server's certificate and key, and the CA its clients' certificates must
    come from: with it, the server demands TLS and a client certificate."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path


@dataclass(frozen=True)
class NatsCluster:
    """Route settings for one member of a JetStream cluster on loopback."""

    name: str
    port: int
    routes: tuple[str, ...]


class NatsServer(_Running):
    """A `nats-server -js` child process with its own store and a monitoring port.

    The client and cluster ports are fixed at construction, so `restart()`
    comes back at the same address with the same store and streams survive.
    """

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        *,
        monitor_port: int | None = None,
        log_path: Path | None = None,
        server_name: str | None = None,
        cluster: NatsCluster | None = None,
        binary: str = "nats-server",
        tls: NatsTls | None = None,
        token: str | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.port = port if port is not None else free_port()
        self.monitor_port = monitor_port if monitor_port is not None else free_port()
        if log_path is None:
            log_path = self.store_dir.with_name(f"{self.store_dir.name}.log")
        self.log_path = Path(log_path)
        self.server_name = server_name
        self.cluster = cluster
        self.binary = binary
        self.tls = tls
        # Clients must log in with this token when set.
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "tls" if self.tls else "nats"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{LOOPBACK}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        cmd = [
            *[self._binary_path(), "-js", "-a", LOOPBACK],
            *["-p", str(self.port), "-m", str(self.monitor_port), "-sd", str(self.store_dir)],
        ]
        if self.server_name:
            cmd += ["--server_name", self.server_name]
        if self.tls:
            cmd += [
                *["--tlsverify", "--tlscert", str(self.tls.cert_file)],
                *["--tlskey", str(self.tls.key_file), "--tlscacert", str(self.tls.client_ca_file)],
            ]
        if self.token:
            cmd += ["--auth", self.token]
        if self.cluster:
            cmd += [
                *["--cluster_name", self.cluster.name],
                *["--cluster", f"nats://{LOOPBACK}:{self.cluster.port}"],
                *["--routes", ",".join(self.cluster.routes)],
            ]
        return cmd

    def start(self, timeout: float = START_TIMEOUT, *, healthy: bool = True) -> None:
        """Starts the server and waits until it can serve JetStream requests.

        A cluster member cannot be fully healthy before a quorum of its peers
        is up, so cluster boots pass `healthy=False` (wait only for JetStream
        to be enabled) and call `wait_healthy()` once every member runs.
        """
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = _spawn(self.command(), log)
        query = "" if healthy else "?js-enabled-only=true"
        self._wait_for(f"{self.monitor_url}/healthz{query}", timeout)

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Waits until JetStream has a meta leader and its streams are current."""
        self._wait_for(f"{self.monitor_url}/healthz", timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL without shutdown, as a crash would (for fault tests)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        self.stop()
        self.start(timeout)

    def _binary_path(self) -> str:
        # Debian installs it in /usr/sbin, which a non-root PATH often lacks.
        search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin"])
        found = shutil.which(self.binary, path=search)
        if found is None:
            raise ServerError(
                f"{self.binary} not found on PATH; install it with `make system` "
                "(tools/bootstrap.sh)"
            )
        return found

    def _wait_for(self, url: str, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not _http_ok(url):
            if self.proc.poll() is not None:
                self._fail(f"nats-server exited with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                self._fail(f"nats-server not ready at {url} after {timeout:.0f}s")
            time.sleep(POLL_INTERVAL)

    def _fail(self, reason: str) -> NoReturn:
        self.stop()
        raise ServerError(f"{reason}; last lines of {self.log_path}:\n{log_tail(self.log_path)}")


def nats_cluster(
    base_dir: Path, size: int = 3, name: str = "crm", timeout: float = START_TIMEOUT
) -> list[NatsServer]:
    """Starts a JetStream cluster of `size` members on loopback, all healthy on return."""
    cluster_ports = [free_port() for _ in range(size)]
    routes = tuple(f"nats://{LOOPBACK}:{port}" for port in cluster_ports)
    servers = [
        NatsServer(
            base_dir / f"{name}-{index}",
            server_name=f"{name}-{index}",
            cluster=NatsCluster(name=name, port=port, routes=routes),
        )
        for index, port in enumerate(cluster_ports)
    ]
    try:
        for server in servers:
            server.start(timeout, healthy=False)
        for server in servers:
            server.wait_healthy(timeout)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def _spawn(cmd: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    # A session of its own keeps a terminal's Ctrl-C away from the server, so
    # whoever started it decides the order of shutdown.
    return subprocess.Popen(
        list(cmd),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


# --------------------------------------------------------------------- PostgreSQL

PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"
# Durability is worthless for throwaway test data and costs most of the time.
PG_SETTINGS = {
    "listen_addresses": f"'{LOOPBACK}'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def find_postgres_bin() -> Path:
    """The newest `/usr/lib/postgresql/<version>/bin` that has initdb."""
    candidates = [path.parent for path in PG_ROOT.glob("*/bin/initdb")]
    if not candidates:
        raise ServerError(
            f"no PostgreSQL server found under {PG_ROOT}/*/bin; install it with "
            "`make system` (tools/bootstrap.sh)"
        )
    return max(candidates, key=lambda path: _version_key(path.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    # Numeric, so that 15 sorts after 9.6.
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


class PostgresServer(_Running):
    """A throwaway PostgreSQL cluster under `base_dir`, on 127.0.0.1 with trust auth.

    initdb and pg_ctl refuse to run as root, so as root every server command
    runs as the `postgres` system user and the directories it writes are
    handed to that user.
    """

    def __init__(
        self, base_dir: Path, port: int | None = None, *, bin_dir: Path | None = None
    ) -> None:
        self.base_dir = Path(base_dir)
        self.port = port if port is not None else free_port()
        self.bin_dir = bin_dir
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "postgres.log"
        self.socket_dir: Path | None = None
        self._as_postgres = os.geteuid() == 0

    @property
    def dsn(self) -> str:
        """Base URL without a database, for tools that take a libpq-style URL."""
        return f"postgresql://{PG_USER}@{LOOPBACK}:{self.port}"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{PG_USER}@{LOOPBACK}:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (pg_ctl daemonizes it, so it is no child of ours)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def running(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def start(self) -> None:
        if self.running:
            return
        self.bin_dir = self.bin_dir or find_postgres_bin()
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_settings()
        self._pg_ctl("start", "-w", "-t", str(int(START_TIMEOUT)), "-l", str(self.log_path))

    def stop(self) -> None:
        if self.running:
            self._pg_ctl("stop", "-w", "-m", "fast")
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; its backends exit on their own."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_until(lambda: not self.running, STOP_TIMEOUT, "postgres to die")

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        """Creates database `name` and returns its SQLAlchemy asyncpg URL."""
        self._client("createdb", _checked_name(name))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # --force ends sessions a test left open, which would otherwise block the drop.
        self._client("dropdb", "--if-exists", "--force", _checked_name(name))

    def _prepare_dirs(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_path.touch()
        # The socket path must stay under the kernel's ~107-byte limit, which a
        # deep base_dir (pytest's tmp paths) can exceed; a short temp dir cannot.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        if self._as_postgres:
            self._hand_to_postgres()

    def _hand_to_postgres(self) -> None:
        try:
            user = pwd.getpwnam(PG_USER)
        except KeyError:
            raise ServerError(
                f"running as root but there is no `{PG_USER}` user to run PostgreSQL as; "
                "install the server with `make system` (tools/bootstrap.sh)"
            ) from None
        assert self.socket_dir is not None
        for path in (self.data_dir, self.log_path, self.socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)
        _make_traversable(self.base_dir)

    def _initdb(self) -> None:
        self._run_server_tool(
            "initdb",
            *["-D", str(self.data_dir), "-A", "trust", "-U", PG_USER],
            *["-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
        )

    def _write_settings(self) -> None:
        # Written on every start so a restart picks up the port and socket dir;
        # postgresql.auto.conf is read last and so overrides postgresql.conf.
        assert self.socket_dir is not None
        settings = {
            **PG_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
        }
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (self.data_dir / "postgresql.auto.conf").write_text(text)

    def _pg_ctl(self, *args: str) -> None:
        self._run_server_tool("pg_ctl", "-D", str(self.data_dir), *args)

    def _run_server_tool(self, tool: str, *args: str) -> None:
        assert self.bin_dir is not None
        cmd = [str(self.bin_dir / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        self._run(cmd)

    def _client(self, tool: str, *args: str) -> None:
        bin_dir = self.bin_dir or find_postgres_bin()
        conn = ["-h", LOOPBACK, "-p", str(self.port), "-U", PG_USER, "-w"]
        self._run([str(bin_dir / tool), *conn, *args])

    def _run(self, cmd: list[str]) -> None:
        # cwd: runuser keeps the caller's cwd, which the postgres user may not
        # read. A new session keeps a terminal's Ctrl-C away from the postmaster.
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            cwd="/",
            check=False,
            timeout=120,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise ServerError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n"
                f"last lines of {self.log_path}:\n{log_tail(self.log_path)}"
            )


def _checked_name(name: str) -> str:
    # The name also goes into a URL, so only plain identifiers are accepted.
    if not DB_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def _make_traversable(path: Path) -> None:
    """Adds search (not read) permission for others on `path` and its ancestors.

    The postgres user must reach its data dir through folders that root made
    private, such as pytest's /tmp/pytest-of-root.
    """
    for folder in (path, *path.resolve().parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
