"""Wrapping a gRPC method handler's behaviour, whatever its streaming kind,
for the server interceptors that watch or guard every call."""

from collections.abc import Callable
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
