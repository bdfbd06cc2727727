"""`crm up`: its planning as pure functions, and a full run against stand-in services.

The stand-ins are tiny `crm_<name>.main` packages put first on PYTHONPATH,
so the launcher is tested on its own, whatever state the real services are in.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_cli.servers import free_port
from crm_cli.tables import format_table, shorten
from crm_cli.up import plan_services, service_env, service_ports

FAKE_MAIN = textwrap.dedent(
    """
    import json, os, signal, sys
    from concurrent import futures
    from pathlib import Path

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    name = __package__.removeprefix("crm_")
    if os.environ.get("FAKE_FAIL") == name:
        print(f"{name}: boom", flush=True)
        sys.exit(3)
    crm_env = {k: v for k, v in os.environ.items() if k.startswith("CRM_")}
    Path(os.environ["FAKE_OUT"], f"{name}.json").write_text(
        json.dumps({"pid": os.getpid(), "env": crm_env})
    )
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(os.environ[f"CRM_{name.upper()}_LISTEN_ADDRESS"])
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()
    """
)
LAUNCH = "import sys; from pathlib import Path; from crm_cli.up import run_suite; " + (
    "sys.exit(run_suite(Path(sys.argv[1])))"
)
NAMES = ["contacts", "sales", "projects", "support"]

# Starts the launcher with extra environment; gives its process and console file.
Launch = Callable[..., tuple[subprocess.Popen[bytes], Path]]


def test_default_ports() -> None:
    assert service_ports({}) == {
        "contacts": 50051,
        "sales": 50052,
        "projects": 50053,
        "support": 50054,
    }


def test_ports_from_env() -> None:
    assert service_ports({"CRM_SALES_PORT": "6000"})["sales"] == 6000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CRM_SALES_PORT": "http"}, "not a port"),
        ({"CRM_SALES_PORT": "70000"}, "outside"),
        ({"CRM_SALES_PORT": "50051"}, "clashes with CRM_CONTACTS_PORT"),
        ({"CRM_SUPPORT_PORT": "4222"}, "clashes with CRM_NATS_PORT"),
    ],
)
def test_bad_ports_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        service_ports(env)


def test_service_env_defaults_to_sqlite_in_var_dir(tmp_path: Path) -> None:
    base = {"PATH": "/bin"}
    env = service_env("sales", tmp_path, "nats://127.0.0.1:4222", base)
    assert env["PATH"] == "/bin"
    assert env["CRM_SALES_DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path}/sales.db"
    assert env["CRM_NATS_URL"] == "nats://127.0.0.1:4222"
    assert base == {"PATH": "/bin"}


def test_service_env_keeps_a_given_database() -> None:
    given = {"CRM_SALES_DATABASE_URL": "postgresql+asyncpg://postgres@db/sales"}
    env = service_env("sales", Path("/var"), "nats://x:1", given)
    assert env["CRM_SALES_DATABASE_URL"] == given["CRM_SALES_DATABASE_URL"]


def test_plan_uses_absolute_paths_and_own_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    services = plan_services(Path("var"), "nats://127.0.0.1:4222", {"CRM_SALES_PORT": "6000"})
    assert [service.service for service in services] == NAMES
    assert services[0].log_path == tmp_path / "var" / "logs" / "contacts.log"
    assert services[0].env["CRM_CONTACTS_DATABASE_URL"].endswith(f"//{tmp_path}/var/contacts.db")
    assert services[0].env["CRM_CONTACTS_LISTEN_ADDRESS"] == "127.0.0.1:50051"
    assert services[0].env["PYTHONUNBUFFERED"] == "1"
    assert services[0].command[1:] == ["-m", "crm_contacts.main"]
    assert services[1].address == "127.0.0.1:6000"
    assert not any(service.running for service in services)


def test_plan_tells_every_service_where_the_others_listen() -> None:
    env = {"CRM_CONTACTS_PORT": "7001", "CRM_PROJECTS_TARGET": "elsewhere:1"}
    sales = plan_services(Path("var"), "nats://127.0.0.1:4222", env)[1]
    assert sales.env["CRM_CONTACTS_TARGET"] == "127.0.0.1:7001"
    assert sales.env["CRM_PROJECTS_TARGET"] == "elsewhere:1"


def test_format_table_aligns_columns() -> None:
    table = format_table([("NAME", "PID"), ("contacts", "1")])
    assert table.splitlines() == ["NAME      PID", "contacts  1"]


def test_shorten_keeps_one_line_within_width() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("a\n  b", 10) == "a b"
    assert shorten("x" * 20, 10) == "xxxxxxx..."


# ------------------------------------------------------------- full launches


@pytest.fixture
def fake_services(tmp_path: Path) -> Path:
    root = tmp_path / "fakes"
    for name in NAMES:
        package = root / f"crm_{name}"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "main.py").write_text(FAKE_MAIN)
    return root


@pytest.fixture
def launch(tmp_path: Path, fake_services: Path) -> Iterator[Launch]:
    launched: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> tuple[subprocess.Popen[bytes], Path]:
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(fake_services),
            "FAKE_OUT": str(out),
            "CRM_NATS_PORT": str(free_port()),
            **{f"CRM_{name.upper()}_PORT": str(free_port()) for name in NAMES},
            **extra,
        }
        console = tmp_path / "console.txt"
        with console.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, str(tmp_path / "var")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        launched.append(proc)
        return proc, console

    yield start
    for proc in launched:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_text(
    console: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while text not in console.read_text():
        assert proc.poll() is None, f"launcher exited early:\n{console.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} in:\n{console.read_text()}"
        time.sleep(0.1)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_up_runs_suite_and_stops_on_sigterm(launch: Launch, tmp_path: Path) -> None:
    proc, console = launch()
    wait_for_text(console, "grpcurl -plaintext", proc)
    reports = {name: json.loads((tmp_path / "out" / f"{name}.json").read_text()) for name in NAMES}
    env = reports["projects"]["env"]
    assert env["CRM_NATS_URL"].startswith("nats://127.0.0.1:")
    assert env["CRM_PROJECTS_DATABASE_URL"].endswith("/var/projects.db")
    assert all(str(report["pid"]) in console.read_text() for report in reports.values())

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, console.read_text()
    assert not any(pid_alive(report["pid"]) for report in reports.values())
    assert (tmp_path / "var" / "logs" / "nats.log").exists()


@pytest.mark.slow
def test_up_reports_a_service_that_dies(launch: Launch, tmp_path: Path) -> None:
    proc, console = launch()
    wait_for_text(console, "grpcurl -plaintext", proc)
    sales = json.loads((tmp_path / "out" / "sales.json").read_text())
    os.kill(sales["pid"], signal.SIGKILL)
    assert proc.wait(timeout=30) == 1
    assert "sales exited with code -9" in console.read_text()


@pytest.mark.slow
def test_up_reports_a_service_that_fails_to_start(launch: Launch) -> None:
    proc, console = launch(FAKE_FAIL="support")
    assert proc.wait(timeout=60) == 1
    output = console.read_text()
    assert "support exited with code 3" in output
    assert "support: boom" in output
