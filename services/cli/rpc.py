"""What every `crm` command group that calls a service needs: a connected
stub, and gRPC failures turned into messages without tracebacks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

CONNECT_TIMEOUT = 5.0

StubT = TypeVar("StubT")


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


@contextmanager
def connected_stub(
    stub_class: Callable[[grpc.Channel], StubT],
    service: str,
    target_env: str,
    default_target: str,
    describe: Callable[[grpc.RpcError], str],
    options: Sequence[tuple[str, int]] = (),
) -> Iterator[StubT]:
    """A stub on a channel known to be connected; CommandError for any RPC failure."""
    target = os.environ.get(target_env, default_target)
    with grpc.insecure_channel(target, options=list(options)) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT)
        except grpc.FutureTimeoutError:
            raise CommandError(
                f"cannot reach the {service} service at {target}; is it running? "
                f"Set {target_env} to point elsewhere"
            ) from None
        try:
            yield stub_class(channel)
        except grpc.RpcError as error:
            raise CommandError(describe(error)) from None


def field_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    """The `google.rpc.BadRequest` field violations a failed call carries."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    violations: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            violations += [(v.field, v.description) for v in bad_request.field_violations]
    return violations
