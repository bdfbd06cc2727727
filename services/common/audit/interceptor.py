"""Makes each RPC the current call (audit.context) while its handler runs."""

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import grpc
from google.protobuf.message import Message

from crm_common.audit.context import Call, serving
from crm_common.grpc.handlers import wrap_handler


class CallContextInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:
            return handler
        # The same handler serves every call of a method: wrap it once.
        if method not in self._wrapped:
            self._wrapped[method] = wrap_handler(
                handler, partial(_unary, method=method), partial(_streamed, method=method)
            )
        return self._wrapped[method]


def _call(method: str, request: Any, context: grpc.aio.ServicerContext) -> Call:
    # A client-streamed request is an iterator, not a message to name resources from.
    message = request if isinstance(request, Message) else None
    return Call(method, context.peer() or "", message)


def _unary(behavior: Callable[..., Awaitable[Any]], method: str) -> Callable[..., Awaitable[Any]]:
    async def in_context(request: Any, context: grpc.aio.ServicerContext) -> Any:
        with serving(_call(method, request, context)):
            return await behavior(request, context)

    return in_context


def _streamed(
    behavior: Callable[..., AsyncIterator[Any]], method: str
) -> Callable[..., AsyncIterator[Any]]:
    async def in_context(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        with serving(_call(method, request, context)):
            async for response in behavior(request, context):
                yield response

    return in_context
