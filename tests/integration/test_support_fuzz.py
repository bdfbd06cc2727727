"""Property: random requests to any RPC of any support gRPC service never crash it."""

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from hypothesis import HealthCheck, given, settings

from crm_support.main import SERVICES
from tests.integration.harness import Suite
from tests.support.fuzzing import FORBIDDEN, call, methods, requests, st_examples

ALL_METHODS = [method for service in SERVICES for method in methods(service.descriptor)]
SERVICE = SERVICES[0].descriptor


@pytest.mark.parametrize("method", ALL_METHODS, ids=lambda m: m.full_name)
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
