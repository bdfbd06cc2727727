"""What every `crm` command group that calls a service needs: a connected
stub, and gRPC failures turned into messages without tracebacks."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crm_cli.auth import caller_token
from crm_common import transport
from crm_common.auth.client import with_token

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
    try:
        secured = transport.channel(target, options=options)
    except transport.TlsConfigurationError as error:
        raise CommandError(f"cannot reach the {service} service: {error}") from None
    with secured as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT)
        except grpc.FutureTimeoutError:
            raise CommandError(
                f"cannot reach the {service} service at {target}; is it running? "
                f"Set {target_env} to point elsewhere, and CRM_TLS_CA_FILE (with "
                "CRM_TLS_CLIENT_CERT_FILE and CRM_TLS_CLIENT_KEY_FILE) if it serves TLS"
            ) from None
        try:
            yield stub_class(with_token(channel, caller_token()))
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


def describe_rpc_error(error: grpc.RpcError) -> str:
    """One line: the status, the service's message and any field violations."""
    code = error.code()  # type: ignore[attr-defined]
    text = f"{code.name}: {error.details()}"  # type: ignore[attr-defined]
    violations = [f"{field} {description}" for field, description in field_violations(error)]
    if violations:
        text = f"{code.name}: the service refused the request: {'; '.join(violations)}"
    return " ".join(text.split())


@dataclass(frozen=True)
class ServiceClient:
    """How a command group reaches its service and reports a failure."""

    service: str
    target_env: str
    default_target: str

    def connect(self, stub_class: Callable[[grpc.Channel], StubT]) -> AbstractContextManager[StubT]:
        """`connected_stub` for this service: CommandError for any RPC failure."""
        return connected_stub(
            stub_class, self.service, self.target_env, self.default_target, describe_rpc_error
        )

    def fail(self, error: CommandError) -> int:
        """Prints `error` as `crm SERVICE: ...` on stderr; the exit code of a failure."""
        print(f"crm {self.service}: {error}", file=sys.stderr)
        return 1


def all_pages(list_method: Callable[[Any], Any], request: Any, field: str) -> list[Any]:
    """Every item of a paged List call: `field` of each response, following
    `next_page_token` (the request's `page_token` is overwritten)."""
    found: list[Any] = []
    while True:
        response = list_method(request)
        found += getattr(response, field)
        if not response.next_page_token:
            return found
        request.page_token = response.next_page_token
