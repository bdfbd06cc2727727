"""`crm sales pipeline` as a real process against the sales service, on SQLite
and PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from tests.integration.harness import Suite
from tests.integration.test_sales_opportunities import create, money, new_pipeline

CRM = Path(sys.executable).with_name("crm")


@pytest.fixture(scope="module")
def sales(sales_suite: Suite) -> SalesServiceStub:
    return sales_suite.stub("sales", SalesServiceStub)


def crm(suite: Suite | None, *args: str) -> subprocess.CompletedProcess[str]:
    target = suite.processes["sales"].address if suite else "127.0.0.1:1"
    return subprocess.run(
        [str(CRM), "sales", *args],
        env={**os.environ, "CRM_SALES_TARGET": target},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_board_shows_stages_counts_and_exact_totals(
    sales_suite: Suite, sales: SalesServiceStub
) -> None:
    pipeline = new_pipeline(sales)
    create(sales, pipeline, display_name="Small", value=money("EUR", 0, 100_000_000))
    create(sales, pipeline, display_name="Large", value=money("EUR", 1200, 200_000_000))
    create(sales, pipeline, display_name="Dollars", value=money("USD", 5))
    create(sales, pipeline, display_name="Late", stage=f"{pipeline.name}/stages/negotiation")
    result = crm(sales_suite, "pipeline", pipeline.name.removeprefix("pipelines/"))
    assert result.returncode == 0, result.stderr
    title, header, counts, *rest = result.stdout.splitlines()
    assert title == f"New business ({pipeline.name})"
    assert header.split() == ["LEAD", "(10%)", "PROPOSAL", "(50%)", "NEGOTIATION", "(80%)"]
    assert counts.split() == ["3", "deals", "0", "deals", "1", "deal"]
    assert rest[0].split() == ["EUR", "1,200.30", "EUR", "1,000.00"]
    assert rest[1].split() == ["USD", "5.00"]
    first_deal = rest.index(next(line for line in rest if line.startswith("---"))) + 1
    deals = rest[first_deal : rest.index("")]
    assert [line.split()[0] for line in deals] == ["Large", "Dollars", "Small"]
    assert rest[-1] == "Won this month: 0 deals. Lost this month: 0 deals."


def test_errors_are_one_line(sales_suite: Suite) -> None:
    missing = crm(sales_suite, "pipeline", "nowhere")
    assert missing.returncode == 1
    assert missing.stderr.startswith("crm sales: NOT_FOUND")
    unreachable = crm(None, "pipeline", "x")
    assert unreachable.returncode == 1
    assert "cannot reach the sales service" in unreachable.stderr
