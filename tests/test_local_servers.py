"""The server harness itself: real NATS JetStream and PostgreSQL on loopback."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import PubAck
from nats.js.client import JetStreamContext
from nats.js.errors import NoStreamResponseError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_cli.servers import (
    FREE_PORTS_ENV,
    NatsServer,
    PostgresServer,
    ServerError,
    free_port,
    nats_cluster,
)

# Seconds a replicated stream may take to elect a new leader after a loss.
ELECTION_GRACE = 15.0


@asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[JetStreamContext]:
    client: Client = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        yield client.jetstream()
    finally:
        await client.close()


async def publish_with_retry(js: JetStreamContext, subject: str, payload: bytes) -> PubAck:
    # Right after a member dies its streams elect a new leader, and until then
    # publishes fail fast with "no responders" rather than waiting.
    deadline = time.monotonic() + ELECTION_GRACE
    while True:
        try:
            return await js.publish(subject, payload, timeout=2)
        except (NoStreamResponseError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of the test's own, since restarting the shared one would disturb others."""
    with NatsServer(tmp_path / "store") as server:
        yield server


def test_free_port_is_bindable() -> None:
    assert 0 < free_port() < 65536


def test_free_ports_come_from_the_given_range_and_not_twice_in_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FREE_PORTS_ENV, "9100-9109")
    ports = [free_port() for _ in range(10)]
    assert sorted(ports) == list(range(9100, 9110))
    with pytest.raises(ServerError, match="no free port"):
        free_port()


async def test_nats_accepts_jetstream_publish(nats_server: NatsServer) -> None:
    async with jetstream(nats_server.url) as js:
        await js.add_stream(name="HARNESS", subjects=["harness.>"])
        ack = await js.publish("harness.one", b"hello")
        assert ack.stream == "HARNESS"
        assert (await js.get_msg("HARNESS", ack.seq)).data == b"hello"


@pytest.mark.parametrize("halt", ["stop", "kill"])
async def test_nats_stream_survives_restart(own_nats: NatsServer, halt: str) -> None:
    async with jetstream(own_nats.url) as js:
        await js.add_stream(name="DURABLE", subjects=["durable.>"])
        await js.publish("durable.one", b"kept")
    port = own_nats.port
    getattr(own_nats, halt)()
    assert not own_nats.running
    own_nats.start()
    assert own_nats.port == port
    async with jetstream(own_nats.url) as js:
        info = await js.stream_info("DURABLE")
        assert info.state.messages == 1
        assert (await js.get_msg("DURABLE", 1)).data == b"kept"


def test_nats_start_failure_names_log(nats_server: NatsServer, tmp_path: Path) -> None:
    clash = NatsServer(tmp_path / "store", port=nats_server.port)
    with pytest.raises(ServerError, match="exited with code") as failure:
        clash.start(timeout=10)
    assert str(clash.log_path) in str(failure.value)
    assert not clash.running


@pytest.mark.slow
async def test_nats_cluster_replicates_and_tolerates_one_loss(tmp_path: Path) -> None:
    servers = nats_cluster(tmp_path, size=3)
    try:
        async with jetstream(servers[0].url) as js:
            await js.add_stream(name="REPL", subjects=["repl.>"], num_replicas=3)
            await js.publish("repl.one", b"1")
        servers[0].kill()
        async with jetstream(servers[1].url) as js:
            ack = await publish_with_retry(js, "repl.two", b"2")
            assert ack.seq == 2
    finally:
        for server in servers:
            server.stop()


async def test_postgres_database_accepts_sqlalchemy(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("harness_check")
    assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{postgres_server.port}/harness_check"
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_database()"))).scalar() == (
                "harness_check"
            )
    finally:
        await engine.dispose()
    postgres_server.drop_database("harness_check")


def test_postgres_rejects_unsafe_database_name(postgres_server: PostgresServer) -> None:
    with pytest.raises(ValueError, match="plain database name"):
        postgres_server.create_database('x"; DROP DATABASE postgres; --')


async def select_one(url: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT 1"))).scalar()
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_postgres_recovers_from_kill(tmp_path: Path) -> None:
    with PostgresServer(tmp_path / "pg") as server:
        url = server.create_database("survivor")
        server.kill()
        assert not server.running
        server.start()
        assert await select_one(url) == 1
