"""Which unexpected errors still deserve a precise status."""

import pytest
from google.rpc import error_details_pb2, status_pb2
from sqlalchemy.exc import DBAPIError

from crm_common.errors import InvalidArgument, Violations
from crm_common.grpc.errors import _lost_a_race, _lost_the_database, status_for


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "retryable"), [("40P01", True), ("40001", True), ("23505", False)]
)
def test_deadlocks_and_serialization_failures_are_races(sqlstate: str, retryable: bool) -> None:
    error = DBAPIError("UPDATE tickets", {}, _PgError(sqlstate))
    assert _lost_a_race(error) is retryable


def test_other_errors_are_not_races() -> None:
    assert not _lost_a_race(RuntimeError("boom"))


def test_a_lost_or_refused_database_connection_is_an_outage() -> None:
    lost = DBAPIError("SELECT 1", {}, OSError("connection reset"), connection_invalidated=True)
    assert _lost_the_database(lost)
    assert _lost_the_database(ConnectionRefusedError(111, "refused"))
    assert not _lost_the_database(DBAPIError("SELECT 1", {}, _PgError("23505")))
    assert not _lost_the_database(RuntimeError("boom"))


def test_a_flood_of_violations_is_cut_to_fit_a_trailer() -> None:
    violations = Violations()
    for index in range(1000):
        violations.add(f"items[{index}].value", "is longer than 1000 characters")
    with pytest.raises(InvalidArgument) as raised:
        violations.raise_if_any()
    status = status_for(raised.value)
    assert len(status.details) <= 1024
    (trailer,) = [value for _, value in status.trailing_metadata if isinstance(value, bytes)]
    assert len(trailer) < 8192
    bad_request = error_details_pb2.BadRequest()
    status_proto = status_pb2.Status.FromString(trailer)
    status_proto.details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "items[0].value"
    assert "more violations" in bad_request.field_violations[-1].description


def test_a_huge_quoted_value_is_shortened() -> None:
    status = status_for(InvalidArgument.single("name", f"{'x' * 100_000} is not a name"))
    (trailer,) = [value for _, value in status.trailing_metadata if isinstance(value, bytes)]
    assert len(trailer) < 2048 and len(status.details) <= 1024
