"""Property: random requests to any RPC of any gRPC service of the suite never
crash the service that serves it (see tests/support/fuzzing.py)."""

import importlib

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from hypothesis import HealthCheck, given, settings

from tests.integration.harness import Suite
from tests.support.fuzzing import FORBIDDEN, call, methods, requests, st_examples

# Each service, the suite fixture that runs it (with the services it follows),
# and a List method some random requests must get through to.
SERVICES = {
    "contacts": ("suite", "ListPeople"),
    "support": ("suite", "ListTickets"),
    "sales": ("sales_suite", "ListOpportunities"),
    "projects": ("projects_suite", "ListProjects"),
}


def _methods(service: str) -> list[MethodDescriptor]:
    spec = importlib.import_module(f"crm_{service}.main").SPEC
    return [method for served in spec.services for method in methods(served.descriptor)]


def _method(service: str, name: str) -> MethodDescriptor:
    return next(method for method in _methods(service) if method.name == name)


def _suite(request: pytest.FixtureRequest, service: str) -> Suite:
    """The running suite the service belongs to; its tests name `backend`, so
    that the suite fixture, looked up only here, is parametrised by it."""
    suite: Suite = request.getfixturevalue(SERVICES[service][0])
    return suite


CASES = [(service, method) for service in SERVICES for method in _methods(service)]


@pytest.mark.parametrize(
    ("service", "method"), CASES, ids=[method.full_name for _, method in CASES]
)
def test_random_requests_never_crash(
    request: pytest.FixtureRequest, backend: str, service: str, method: MethodDescriptor
) -> None:
    channel = _suite(request, service).channel(service)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(message=requests(method))
    def property_holds(message: object) -> None:
        code = call(channel, method, message)  # type: ignore[arg-type]
        assert code not in FORBIDDEN, f"{method.name} answered {code} to {message!r:.500}"

    property_holds()


@pytest.mark.parametrize("service", list(SERVICES))
def test_fuzzing_reaches_the_handlers(
    request: pytest.FixtureRequest, backend: str, service: str
) -> None:
    """Some random requests must get past validation and succeed, or the
    property above passes vacuously."""
    method = _method(service, SERVICES[service][1])
    channel = _suite(request, service).channel(service)
    codes = {call(channel, method, message) for message in st_examples(method)}
    assert grpc.StatusCode.OK in codes and grpc.StatusCode.INVALID_ARGUMENT in codes
