"""Shared fixtures: one real NATS and one real PostgreSQL server per test session."""

import os
from collections.abc import Iterator

import pytest

from crm_cli.servers import FREE_PORTS_ENV, NatsServer, PostgresServer
from tests.integration.harness import ADMIN_TOKEN, AUTH_ENV

# Each xdist worker ("gw0", "gw1", ...) picks the ports of the servers it starts
# from a range of its own, between 10000 and the kernel's ephemeral ports (32768).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw"):
    _span = 22_000 // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    _first = 10_000 + _span * int(_WORKER.removeprefix("gw"))
    os.environ.setdefault(FREE_PORTS_ENV, f"{_first}-{_first + _span - 1}")


@pytest.fixture(scope="session", autouse=True)
def dev_credentials() -> Iterator[None]:
    """Every service process and `crm` command a test starts inherits the test
    dev secret and calls with an admin token (tests of auth itself pass others)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**AUTH_ENV, "CRM_TOKEN": ADMIN_TOKEN}.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(tmp_path_factory.mktemp("nats") / "store") as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with PostgresServer(tmp_path_factory.mktemp("postgres")) as server:
        yield server
