"""Wrapping a gRPC method handler's behaviour, whatever its streaming kind,
for the server interceptors that watch or guard every call."""

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

Behavior = Callable[..., Any]


def wrap_handler(
    handler: grpc.RpcMethodHandler,
    unary_response: Callable[[Behavior], Behavior],
    streamed_response: Callable[[Behavior], Behavior],
) -> grpc.RpcMethodHandler:
    """`handler` with its behaviour passed through `unary_response` (for methods
    answering with one message) or `streamed_response` (for response streams)."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary_response(handler.unary_unary), **serializers
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            unary_response(handler.stream_unary), **serializers
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            streamed_response(handler.unary_stream), **serializers
        )
    return grpc.stream_stream_rpc_method_handler(
        streamed_response(handler.stream_stream), **serializers
    )


class MethodWrappingInterceptor(grpc.aio.ServerInterceptor):
    """A server interceptor that wraps a method's handler on its first call and
    serves every later call of the method with that wrapper: the same handler
    serves every call of a method.

    A later call does not even ask the interceptors after this one: what they
    answered on the first call (their own wrappers around the same handler) is
    inside the wrapper, so the chain costs one lookup a call however long it is.
    That holds while every interceptor after this one is a MethodWrappingInterceptor.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        wrapped = self._wrapped[method] = self.wrap(handler, method)
        return wrapped

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """The handler that serves `method` (`/package.Service/Method`) from now on."""
        raise NotImplementedError
