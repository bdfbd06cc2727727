"""Hostile input: every RPC of every service refuses oversize values.

For each request message, the descriptors are walked and every string,
repeated and page-size field (also inside nested messages) gets a value far
beyond any limit, one field at a time. The service must answer
INVALID_ARGUMENT with a violation naming that field, whatever else is wrong
with the request (crm_common.grpc.request_checks is the backstop under each
service's own limits). Bytes fields (raw email, CSV data) are bounded by the
message size alone: any answer but a crash will do. The random fuzzing of the
same RPCs is tests/integration/test_fuzz.py.
"""

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from tests.integration.harness import Suite, field_violations
from tests.support.fuzzing import FORBIDDEN

SERVICES = ("contacts", "sales", "projects", "support")
# Past every per-field limit, yet well inside the 4 MiB message limit.
LONG_STRING = "x" * 200_000
MANY_ITEMS = 20_000
HUGE_PAGE_SIZE = 1_000_000
MAX_DEPTH = 3


@dataclass(frozen=True)
class Oversize:
    """One request with one field oversize."""

    method: MethodDescriptor
    path: str
    request: Message | list[Message]
    # Bytes may be as long as the message allows.
    may_pass: bool

    @property
    def id(self) -> str:
        return f"{self.method.containing_service.name}.{self.method.name}:{self.path}"


def _methods(service: str) -> list[MethodDescriptor]:
    spec = importlib.import_module(f"crm_{service}.main").SPEC
    return [method for served in spec.services for method in served.descriptor.methods]


def _oversize_paths(
    descriptor: Descriptor, depth: int = 0
) -> Iterator[tuple[list[FieldDescriptor], str]]:
    """(field chain, kind of oversize value) for every field worth stretching."""
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            yield [field], "many"
        elif field.is_repeated:
            yield [field], "many"
            if field.type == FieldDescriptor.TYPE_STRING:
                yield [field], "long item"
        elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            yield [field], "long"
        elif field.name == "page_size":
            yield [field], "huge"
        elif field.type == FieldDescriptor.TYPE_MESSAGE and depth < MAX_DEPTH:
            if field.message_type.full_name.startswith("google.protobuf."):
                continue
            for chain, kind in _oversize_paths(field.message_type, depth + 1):
                yield [field, *chain], kind


def _set(message: Message, chain: list[FieldDescriptor], kind: str) -> None:
    *parents, field = chain
    for parent in parents:
        message = getattr(message, parent.name)
    value = getattr(message, field.name) if field.is_repeated else None
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key_type = field.message_type.fields_by_name["key"].type
        for index in range(MANY_ITEMS):
            key = f"k{index}" if key_type == FieldDescriptor.TYPE_STRING else index
            value[key]  # touching a key of a map adds the entry
    elif kind == "many":
        for _ in range(MANY_ITEMS):
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                value.add()
            elif field.type == FieldDescriptor.TYPE_STRING:
                value.append("x")
            elif field.type == FieldDescriptor.TYPE_ENUM:
                value.append(1 if len(field.enum_type.values) > 1 else 0)
            elif field.type == FieldDescriptor.TYPE_BOOL:
                value.append(True)
            elif field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
                value.append(1.0)
            elif field.type == FieldDescriptor.TYPE_BYTES:
                value.append(b"x")
            else:
                value.append(1)
    elif kind == "long item":
        value.append(LONG_STRING)
    elif kind == "long":
        long = LONG_STRING.encode() if field.type == FieldDescriptor.TYPE_BYTES else LONG_STRING
        setattr(message, field.name, long)
    else:
        setattr(message, field.name, HUGE_PAGE_SIZE)


def _cases(service: str) -> Iterator[Oversize]:
    for method in _methods(service):
        request_class = GetMessageClass(method.input_type)
        for chain, kind in _oversize_paths(method.input_type):
            request = request_class()
            _set(request, chain, kind)
            path = ".".join(field.name for field in chain)
            is_bytes = chain[-1].type == FieldDescriptor.TYPE_BYTES and kind == "long"
            # A client stream gets the oversize message as its only one.
            sent = [request] if method.client_streaming else request
            yield Oversize(method, f"{path} ({kind})", sent, is_bytes)


CASES = {service: list(_cases(service)) for service in SERVICES}


def test_every_rpc_of_every_service_has_oversize_cases() -> None:
    for service in SERVICES:
        covered = {case.method.full_name for case in CASES[service]}
        expected = {m.full_name for m in _methods(service) if m.input_type.fields}
        assert expected <= covered, service


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _answer(channel: grpc.Channel, case: Oversize) -> tuple[grpc.StatusCode, set[str]]:
    """The status code and the violated field paths (without indices and keys)."""
    method = case.method
    path = f"/{method.containing_service.full_name}/{method.name}"
    serializers = {
        "request_serializer": _serialize,
        "response_deserializer": GetMessageClass(method.output_type).FromString,
    }
    try:
        if method.client_streaming:
            assert isinstance(case.request, list)
            channel.stream_unary(path, **serializers)(iter(case.request), timeout=30)
        elif method.server_streaming:
            list(channel.unary_stream(path, **serializers)(case.request, timeout=30))
        else:
            channel.unary_unary(path, **serializers)(case.request, timeout=30)
    except grpc.RpcError as error:
        fields = set()
        if error.code() is grpc.StatusCode.INVALID_ARGUMENT:
            fields = {re.sub(r"\[[^\]]*\]", "", field) for field in field_violations(error)}
        return error.code(), fields
    return grpc.StatusCode.OK, set()


@pytest.mark.parametrize("service", SERVICES)
def test_oversize_values_are_refused_by_their_path(
    projects_suite: Suite, backend: str, service: str
) -> None:
    channel = projects_suite.channel(service)
    problems = []
    for case in CASES[service]:
        code, fields = _answer(channel, case)
        stretched = case.path.split(" ")[0]
        if code in FORBIDDEN or not (case.may_pass or stretched in fields):
            problems.append(f"{case.id} -> {code.name} {sorted(fields)}")
    assert not problems, "\n".join(problems)
