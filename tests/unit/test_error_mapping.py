"""Which unexpected errors still deserve a precise status."""

import pytest
from sqlalchemy.exc import DBAPIError

from crm_common.grpc.errors import _lost_a_race


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
