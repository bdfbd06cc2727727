"""Authentication and authorization of every RPC, before its handler runs.

`AuthInterceptor` sits between telemetry (outside, so refusals are counted
with the code the client gets) and error mapping (inside). Per call it reads
the bearer token from the `authorization` metadata, verifies it, checks that
the caller's roles grant the method's permission from the service's table,
and makes the caller the `current_principal()` while the handler runs.

Health checks and reflection stay open: probes and tooling carry no token.
A method missing from the table is refused to everyone (and logged): an RPC
nobody thought about is not an RPC everyone may call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from typing import Any

import grpc

from crm_common.auth.principal import Principal, acting_as
from crm_common.auth.roles import Permission
from crm_common.auth.tokens import AuthenticationError, TokenVerifier
from crm_common.grpc.handlers import MethodWrappingInterceptor, wrap_handler

log = logging.getLogger(__name__)

OPEN_SERVICES = ("/grpc.health.v1.", "/grpc.reflection.")
AUTHORIZATION = "authorization"
_BEARER = "bearer "


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _MethodGate:
    """Who may call one method."""

    def __init__(self, method: str, permission: Permission | None, verifier: TokenVerifier):
        self.method = method
        self.permission = permission
        self._verifier = verifier
        if permission is None:
            log.error("rpc has no permission entry; refusing every call", extra={"method": method})

    def admit(self, context: grpc.aio.ServicerContext) -> Principal:
        try:
            principal = self._verifier.verify(bearer_token(context.invocation_metadata()))
        except AuthenticationError as error:
            raise _Refused(grpc.StatusCode.UNAUTHENTICATED, str(error)) from None
        if self.permission is None:
            raise _Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{self.method} is not open to anyone: it has no permission entry",
            )
        if not principal.may(self.permission):
            log.info(
                "call refused",
                extra={"method": self.method, "subject": principal.subject, "reason": "role"},
            )
            raise _Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"the caller's roles do not grant '{self.permission}', which this call needs",
            )
        return principal


def bearer_token(metadata: Any) -> str:
    """The token of the call's `authorization: Bearer ...` metadata."""
    values = [value for key, value in metadata or () if key == AUTHORIZATION]
    if not values:
        raise AuthenticationError(
            "missing credentials: send 'authorization: Bearer <token>' metadata"
        )
    if len(values) > 1:
        raise AuthenticationError("send one 'authorization' metadata entry, not several")
    value = values[0] if isinstance(values[0], str) else ""
    if not value.lower().startswith(_BEARER) or not value[len(_BEARER) :].strip():
        raise AuthenticationError("the 'authorization' metadata must be 'Bearer <token>'")
    return value[len(_BEARER) :].strip()


class AuthInterceptor(MethodWrappingInterceptor):
    def __init__(self, verifier: TokenVerifier, permissions: Mapping[str, Permission]) -> None:
        super().__init__()
        self._verifier = verifier
        self._permissions = dict(permissions)

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        if method.startswith(OPEN_SERVICES):
            return handler
        gate = _MethodGate(method, self._permissions.get(method), self._verifier)
        return wrap_handler(
            handler, partial(_guard_unary, gate=gate), partial(_guard_stream, gate=gate)
        )


def _guard_unary(
    behavior: Callable[..., Awaitable[Any]], gate: _MethodGate
) -> Callable[..., Awaitable[Any]]:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            principal = gate.admit(context)
        except _Refused as refusal:
            await context.abort(refusal.code, refusal.message)
        with acting_as(principal):
            return await behavior(request, context)

    return guarded


def _guard_stream(
    behavior: Callable[..., AsyncIterator[Any]], gate: _MethodGate
) -> Callable[..., AsyncIterator[Any]]:
    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            principal = gate.admit(context)
        except _Refused as refusal:
            await context.abort(refusal.code, refusal.message)
        with acting_as(principal):
            async for response in behavior(request, context):
                yield response

    return guarded
