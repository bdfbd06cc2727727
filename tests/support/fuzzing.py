"""Calls every RPC of a gRPC service with random requests.

A client's mistake must never surface as INTERNAL or UNKNOWN (a crash in
the server), nor as UNIMPLEMENTED (a contract the service does not honour).
"""

from collections.abc import Iterator

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.proto_strategies import requests_for

FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED}


def methods(service: ServiceDescriptor) -> list[MethodDescriptor]:
    return list(service.methods)


def requests(method: MethodDescriptor) -> st.SearchStrategy[Message | list[Message]]:
    single = requests_for(GetMessageClass(method.input_type))
    return st.lists(single, max_size=3) if method.client_streaming else single


def call(
    channel: grpc.Channel, method: MethodDescriptor, request: Message | list[Message]
) -> grpc.StatusCode:
    """The status code of one call with `request`; OK when it succeeded."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    response_class = GetMessageClass(method.output_type)
    serialize, deserialize = _serialize, response_class.FromString
    try:
        if method.client_streaming:
            assert isinstance(request, list)
            stub = channel.stream_stream if method.server_streaming else channel.stream_unary
            result = stub(path, request_serializer=serialize, response_deserializer=deserialize)(
                iter(request), timeout=10
            )
        else:
            stub = channel.unary_stream if method.server_streaming else channel.unary_unary
            result = stub(path, request_serializer=serialize, response_deserializer=deserialize)(
                request, timeout=10
            )
        if method.server_streaming:
            _drain(result)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _drain(responses: Iterator[Message]) -> None:
    for _ in responses:
        pass


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def st_examples(method: MethodDescriptor) -> list[object]:
    """A sample of the random requests `requests(method)` draws."""
    found: list[object] = []

    @settings(max_examples=60, database=None)
    @given(requests(method))
    def collect(request: object) -> None:
        found.append(request)

    collect()
    return found
