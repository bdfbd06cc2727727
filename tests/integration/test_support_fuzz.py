"""Property: random requests to any support RPC never crash the service."""

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from hypothesis import HealthCheck, given, settings

from crm.support.v1 import support_service_pb2
from tests.integration.harness import Suite
from tests.support.fuzzing import FORBIDDEN, call, methods, requests, st_examples

SERVICE = support_service_pb2.DESCRIPTOR.services_by_name["SupportService"]


@pytest.mark.parametrize("method", methods(SERVICE), ids=lambda m: m.name)
def test_random_requests_never_crash(suite: Suite, method: MethodDescriptor) -> None:
    channel = suite.channel("support")

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(request=requests(method))
    def property_holds(request: object) -> None:
        code = call(channel, method, request)  # type: ignore[arg-type]
        assert code not in FORBIDDEN, f"{method.name} answered {code} to {request!r:.500}"

    property_holds()


def test_fuzzing_reaches_the_handlers(suite: Suite) -> None:
    """Some random requests must get past validation, or the property passes vacuously."""
    method = SERVICE.methods_by_name["ListTickets"]
    codes = {call(suite.channel("support"), method, request) for request in st_examples(method)}
    assert grpc.StatusCode.OK in codes and grpc.StatusCode.INVALID_ARGUMENT in codes
