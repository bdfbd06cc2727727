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
    serves every call of a method."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if method not in self._wrapped:
            self._wrapped[method] = self.wrap(handler, method)
        return self._wrapped[method]

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """The handler that serves `method` (`/package.Service/Method`) from now on."""
        raise NotImplementedError
