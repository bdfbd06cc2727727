"""Makes each RPC the current call (audit.context) while its handler runs."""

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import grpc
from google.protobuf.message import Message

from crm_common.audit.context import Call, serving
from crm_common.grpc.handlers import MethodWrappingInterceptor, wrap_handler


class CallContextInterceptor(MethodWrappingInterceptor):
    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        return wrap_handler(
            handler, partial(_unary, method=method), partial(_streamed, method=method)
        )


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
