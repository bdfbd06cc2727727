"""Turns domain errors into gRPC statuses with `google.rpc` details.

Applied to every RPC by an interceptor, so servicers just raise. Anything
unexpected is logged and answered INTERNAL without leaking its text.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy.exc import DBAPIError

from crm_common.errors import (
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from crm_common.grpc.handlers import MethodWrappingInterceptor, wrap_handler
from crm_common.grpc.request_checks import check_request

log = logging.getLogger(__name__)

_CODES: dict[type[DomainError], int] = {
    InvalidArgument: code_pb2.INVALID_ARGUMENT,
    NotFound: code_pb2.NOT_FOUND,
    AlreadyExists: code_pb2.ALREADY_EXISTS,
    FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    Aborted: code_pb2.ABORTED,
    Unavailable: code_pb2.UNAVAILABLE,
    PermissionDenied: code_pb2.PERMISSION_DENIED,
}


# The details travel in a trailer, and gRPC refuses trailers beyond 8 KiB:
# a request with hundreds of mistakes gets the first ones and a count.
_DETAILS_BUDGET_BYTES = 4096
_MESSAGE_MAX = 1024


def status_for(error: DomainError) -> grpc.Status:
    code = next(c for kind, c in _CODES.items() if isinstance(error, kind))
    status = status_pb2.Status(code=code, message=_shortened(error.message, _MESSAGE_MAX))
    if isinstance(error, InvalidArgument):
        bad_request = _bad_request(error)
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    return rpc_status.to_status(status)


# PostgreSQL's verdicts on transactions that raced another: a deadlock
# victim and a serialization failure. Nothing was written; a retry succeeds.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}


def _lost_a_race(error: Exception) -> bool:
    return isinstance(error, DBAPIError) and (
        getattr(error.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES
    )


def _shortened(text: str, limit: int = 500) -> str:
    """Descriptions may quote what the client sent, which can be huge."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bad_request(error: InvalidArgument) -> error_details_pb2.BadRequest:
    bad_request = error_details_pb2.BadRequest()
    for index, violation in enumerate(error.violations):
        bad_request.field_violations.add(
            field=violation.field, description=_shortened(violation.description)
        )
        if bad_request.ByteSize() > _DETAILS_BUDGET_BYTES:
            del bad_request.field_violations[-1]
            left = len(error.violations) - index
            bad_request.field_violations.add(
                field=violation.field, description=f"... and {left} more violations"
            )
            break
    return bad_request


def _lost_the_database(error: Exception) -> bool:
    """The database went away (restarted, failed over, unreachable): nothing
    was written, and the pool replaces its connections for the next call."""
    if isinstance(error, DBAPIError):
        return error.connection_invalidated
    return isinstance(error, ConnectionError)


async def _abort_for(error: Exception, context: grpc.aio.ServicerContext, method: str) -> None:
    if _lost_a_race(error):
        log.warning("transaction lost a race", extra={"method": method, "error": repr(error)})
        error = Aborted("the change raced a concurrent one and was not applied; retry")
    elif _lost_the_database(error):
        log.warning("database connection lost", extra={"method": method, "error": repr(error)})
        error = Unavailable("the database is unreachable; retry")
    if isinstance(error, DomainError):
        status = status_for(error)
        await context.abort(status.code, status.details, status.trailing_metadata)
    log.exception("unhandled error in rpc", extra={"method": method}, exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


class ErrorMappingInterceptor(MethodWrappingInterceptor):
    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        return wrap_handler(
            handler, partial(_guard_unary, method=method), partial(_guard_stream, method=method)
        )


def _guard_unary(
    behavior: Callable[..., Awaitable[Any]], method: str
) -> Callable[..., Awaitable[Any]]:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await behavior(_checked(request), context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await _abort_for(error, context, method)

    return guarded


def _guard_stream(
    behavior: Callable[..., AsyncIterator[Any]], method: str
) -> Callable[..., AsyncIterator[Any]]:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for response in behavior(_checked(request), context):
                yield response
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await _abort_for(error, context, method)

    return guarded


def _checked(request: Any) -> Any:
    """The request, checked; a client stream's messages are checked as they arrive."""
    if isinstance(request, AsyncIterator):
        return _checking(request)
    check_request(request)
    return request


async def _checking(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        check_request(request)
        yield request
