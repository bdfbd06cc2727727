"""A bare grpc.aio unary echo server: the baseline every service call is compared with.

Started as its own process (`python -m bench.echo_server`) through the same
`ServiceProcess` as the services, so it listens on `CRM_ECHO_LISTEN_ADDRESS`
and reports SERVING through the standard health service. The echo method
takes and returns raw bytes (no serializers, no interceptors, no database):
whatever a service costs beyond this is the service's own work.
"""

import asyncio
import os
import signal

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

SERVICE = "bench.Echo"
METHOD = "Echo"
FULL_METHOD = f"/{SERVICE}/{METHOD}"
ADDRESS_VARIABLE = "CRM_ECHO_LISTEN_ADDRESS"


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def serve(address: str) -> None:
    server = grpc.aio.server()
    # No serializers: requests and responses stay bytes.
    handler = grpc.unary_unary_rpc_method_handler(echo)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {METHOD: handler}),)
    )
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    if server.add_insecure_port(address) == 0:
        raise SystemExit(f"cannot listen on {address}")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await stopping.wait()
    await server.stop(1.0)


def main() -> None:
    asyncio.run(serve(os.environ.get(ADDRESS_VARIABLE, "127.0.0.1:50100")))


if __name__ == "__main__":
    main()
