"""Shared fixtures: one real NATS and one real PostgreSQL server per test session."""

from collections.abc import Iterator

import pytest

from crm_cli.servers import NatsServer, PostgresServer
from tests.integration.harness import ADMIN_TOKEN, AUTH_ENV


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
