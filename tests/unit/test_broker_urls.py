"""`CRM_NATS_URL` names one server or every member of a cluster, comma-separated."""

import asyncio

import pytest

from crm_cli.servers import NatsServer, free_port
from crm_common.messaging.broker import connect, server_urls


def test_one_url_is_one_server() -> None:
    assert server_urls("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]


def test_a_cluster_is_listed_with_commas_and_spaces_are_ignored() -> None:
    assert server_urls(" nats://a:4222, nats://b:4222 ,nats://c:4222,") == [
        "nats://a:4222",
        "nats://b:4222",
        "nats://c:4222",
    ]


def test_no_server_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="no NATS server"):
        server_urls(" , ")


async def test_a_service_connects_while_one_listed_member_is_down(
    nats_server: NatsServer,
) -> None:
    down = f"nats://127.0.0.1:{free_port()}"
    client = await asyncio.wait_for(connect(f"{down},{nats_server.url}", "urls-test"), 10)
    try:
        assert client.is_connected
        assert client.connected_url is not None
        assert client.connected_url.port == nats_server.port
    finally:
        await client.close()
