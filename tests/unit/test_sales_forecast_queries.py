"""The forecast and report SQL against a SQLite database built from the sales metadata.

Deals are written with the opportunity repository, as the service writes
them; the integration tests cover the same figures through the RPCs on both
backends.
"""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.filtering import Expr, parse_filter
from crm_common.storage.db import create_engine, session_factory
from crm_sales.domain.forecast import Period, forecast
from crm_sales.domain.money import Money
from crm_sales.domain.opportunities import (
    FILTER_SCHEMA,
    ForecastCategory,
    Opportunity,
    OpportunityDetails,
    State,
)
from crm_sales.domain.pipelines import Pipeline, Stage
from crm_sales.domain.reports import DayRange, funnel
from crm_sales.storage.exchange_rates import ExchangeRateRepository
from crm_sales.storage.forecast_rollup import forecast_rollup
from crm_sales.storage.funnel import FunnelRollup, funnel_rollup
from crm_sales.storage.opportunities import OpportunityRepository
from crm_sales.storage.pipelines import PipelineRepository
from crm_sales.storage.reports import ReportQueries, whole_months
from crm_sales.storage.tables import metadata

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STAGES = (Stage("lead", "Lead", 10), Stage("demo", "Demo", 50), Stage("deal", "Deal", 90))
YEAR = DayRange(date(2026, 1, 1), date(2026, 12, 31))


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    assert ExchangeRateRepository  # the exchange_rates table is on the metadata too
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'sales.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    async with session_factory(engine)() as session:
        yield session
    await engine.dispose()


async def new_pipeline(session: AsyncSession) -> Pipeline:
    pipeline = Pipeline.create("p", "New business", STAGES, T0)
    await PipelineRepository(session).add(pipeline)
    return pipeline


async def new_deal(
    session: AsyncSession,
    pipeline: Pipeline,
    deal_id: str,
    amount: str,
    *,
    currency: str = "EUR",
    owner: str = "ada",
    close: date | None = date(2026, 2, 10),
    path: tuple[str, ...] = ("lead",),
    outcome: State | None = None,
    **details: object,
) -> Opportunity:
    deal = Opportunity.create(
        deal_id,
        OpportunityDetails(
            display_name=deal_id,
            value=Money(currency, Decimal(amount)),
            owner=owner,
            expected_close_date=close,
            **details,  # type: ignore[arg-type]
        ),
        pipeline,
        path[0],
        T0,
    )
    for hours, stage in enumerate(path[1:], start=1):
        deal.move_to(pipeline, stage, T0 + timedelta(hours=hours))
    if outcome is not None:
        deal.close(outcome, "", datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    await OpportunityRepository(session).add(deal, pipeline)
    return deal


async def test_forecast_buckets_sum_exactly_per_month_and_category(session: AsyncSession) -> None:
    pipeline = await new_pipeline(session)
    await new_deal(session, pipeline, "a", "100.10")  # lead: 10%, pipeline
    await new_deal(session, pipeline, "b", "200.05", path=("lead", "demo"))  # 50%: best case
    await new_deal(session, pipeline, "c", "0.000000001", path=("lead", "deal"), owner="bob")
    await new_deal(session, pipeline, "d", "50", close=date(2026, 5, 1), outcome=State.WON)
    await new_deal(session, pipeline, "e", "70", outcome=State.LOST)
    await new_deal(session, pipeline, "f", "80", close=date(2027, 1, 1))  # outside the range
    await new_deal(session, pipeline, "g", "90", forecast_category=ForecastCategory.OMITTED)
    buckets = await ReportQueries(session).forecast_buckets(
        YEAR, Period.MONTH, None, by_owner=False, by_pipeline=True
    )
    lines = forecast(buckets)
    february, march = lines
    assert (february.key.period_start, february.key.pipeline_id) == (date(2026, 2, 1), "p")
    assert february.pipeline == Decimal("300.150000001")
    assert february.best_case == Decimal("200.050000001")
    assert february.commit == Decimal("0.000000001")
    # 10.01 + 100.025 + 0.0000000009
    assert february.weighted == Decimal("110.0350000009")
    assert february.open_count == 3
    assert (march.key.period_start, march.closed, march.won_count) == (
        date(2026, 3, 1),
        Decimal(50),
        1,
    )
    quarters = await ReportQueries(session).forecast_buckets(
        YEAR, Period.QUARTER, None, by_owner=True, by_pipeline=False
    )
    owners = {(line.key.period_start, line.key.owner): line for line in forecast(quarters)}
    assert set(owners) == {(date(2026, 1, 1), "ada"), (date(2026, 1, 1), "bob")}
    assert owners[(date(2026, 1, 1), "ada")].closed == Decimal(50)


async def test_funnel_counts_the_furthest_stage_and_current_deals(session: AsyncSession) -> None:
    pipeline = await new_pipeline(session)
    await new_deal(session, pipeline, "a", "10")
    await new_deal(session, pipeline, "b", "20", path=("lead", "demo"))
    await new_deal(session, pipeline, "c", "30", path=("lead", "deal", "demo"), currency="USD")
    await new_deal(session, pipeline, "d", "40", path=("lead", "deal"), outcome=State.WON)
    queries = ReportQueries(session)
    figures = await queries.funnel_figures("p", None)
    lead, demo, deal = funnel(pipeline, figures.furthest, figures.current, None)
    assert (lead.reached_count, demo.reached_count, deal.reached_count) == (4, 3, 2)
    assert lead.reached_value == {"EUR": Decimal(70), "USD": Decimal(30)}
    assert deal.reached_value == {"EUR": Decimal(40), "USD": Decimal(30)}
    assert (lead.current_count, demo.current_count, deal.current_count) == (1, 2, 0)
    assert figures.closed == [(State.WON, "EUR", 1, Decimal(40))]
    nobody = DayRange(date(2025, 1, 1), date(2025, 12, 31))
    assert (await queries.funnel_figures("p", nobody)).furthest == []


async def rollup_rows(session: AsyncSession) -> set[tuple[object, ...]]:
    """The roll-up as a commit leaves it: deals' deltas are written as it commits."""
    await session.commit()
    query = select(funnel_rollup).where(funnel_rollup.c.deal_count != 0)
    return {tuple(row) for row in (await session.execute(query)).all()}


async def rebuilt_rows(session: AsyncSession) -> set[tuple[object, ...]]:
    """The roll-up summed afresh from the reach rows, as a reorder or the
    migration's backfill does it."""
    await FunnelRollup(session).rebuild()
    return await rollup_rows(session)


async def test_every_write_keeps_the_funnel_rollup_exact(session: AsyncSession) -> None:
    pipeline = await new_pipeline(session)
    other = Pipeline.create("q", "Renewals", (Stage("review", "Review", 50),), T0)
    await PipelineRepository(session).add(other)
    repository = OpportunityRepository(session)
    a = await new_deal(session, pipeline, "a", "10", path=("lead", "deal"))
    b = await new_deal(session, pipeline, "b", "20.5", currency="USD")
    c = await new_deal(session, pipeline, "c", "30", path=("lead", "demo"))
    a.move_to(other, "review", T0 + timedelta(days=1))
    await repository.save(a, other, a.version - 1)
    b.close(State.LOST, "", T0 + timedelta(days=2))
    await repository.save(b, pipeline, b.version - 1)
    await repository.delete(c.id)
    maintained = await rollup_rows(session)
    assert maintained == await rebuilt_rows(session)
    figures = await ReportQueries(session).funnel_figures("p", None)
    # a left for q but reached "deal" in p; b was lost in "lead"; c is gone.
    assert {(f.position, f.currency, f.count) for f in figures.furthest} == {
        (2, "EUR", 1),
        (0, "USD", 1),
    }
    assert figures.current == []
    assert figures.closed == [(State.LOST, "USD", 1, Decimal("20.5"))]
    moved = await ReportQueries(session).funnel_figures("q", None)
    assert [(c.stage_id, c.count) for c in moved.current] == [("review", 1)]


async def test_reordering_stages_recomputes_the_furthest_stage(session: AsyncSession) -> None:
    pipeline = await new_pipeline(session)
    await new_deal(session, pipeline, "a", "10", path=("lead", "demo"))
    before = pipeline.stages
    pipeline.update(None, (STAGES[1], STAGES[0], STAGES[2]), T0 + timedelta(days=1))
    assert pipeline.moved_stages(before)
    await PipelineRepository(session).save(pipeline, pipeline.version - 1)
    await OpportunityRepository(session).follow_stage_order(pipeline)
    figures = await ReportQueries(session).funnel_figures("p", None)
    # demo now comes first: the deal's furthest is lead, at position 1.
    assert [(f.position, f.count) for f in figures.furthest] == [(1, 1)]
    assert await rollup_rows(session) == await rebuilt_rows(session)


async def test_stage_durations_measure_visits_that_ended(session: AsyncSession) -> None:
    pipeline = await new_pipeline(session)
    await new_deal(session, pipeline, "a", "10", path=("lead", "demo"))  # 1 h in lead
    await new_deal(session, pipeline, "b", "10", path=("lead", "demo", "deal"))
    durations = await ReportQueries(session).stage_durations("p")
    assert durations["lead"].count == 2
    assert durations["lead"].mean == timedelta(hours=1)
    assert durations["demo"].count == 1 and durations["demo"].median == timedelta(hours=1)
    assert "deal" not in durations


async def test_closed_deals_by_owner_and_reason(session: AsyncSession) -> None:
    pipeline = await new_pipeline(session)
    await new_deal(session, pipeline, "a", "10", outcome=State.WON)
    await new_deal(session, pipeline, "b", "20", outcome=State.LOST, owner="bob")
    await new_deal(session, pipeline, "c", "30")
    queries = ReportQueries(session)
    buckets = await queries.closed_buckets(YEAR, Period.QUARTER, None, by_owner=True)
    assert {(b.period_start, b.owner, b.state, b.amount) for b in buckets} == {
        (date(2026, 1, 1), "ada", State.WON, Decimal(10)),
        (date(2026, 1, 1), "bob", State.LOST, Decimal(20)),
    }
    reasons = await queries.reason_buckets(YEAR, None)
    assert {(r.reason_id, r.state, r.count) for r in reasons} == {
        ("", State.WON, 1),
        ("", State.LOST, 1),
    }


async def forecast_rows(session: AsyncSession) -> set[tuple[object, ...]]:
    await session.commit()
    query = select(forecast_rollup).where(forecast_rollup.c.deal_count != 0)
    return {tuple(row) for row in (await session.execute(query)).all()}


async def rebuilt_forecast_rows(session: AsyncSession) -> set[tuple[object, ...]]:
    await OpportunityRepository(session).rebuild_forecast_rollup()
    return await forecast_rows(session)


async def test_every_write_keeps_the_forecast_rollup_exact(session: AsyncSession) -> None:
    pipeline = await new_pipeline(session)
    other = Pipeline.create("q", "Renewals", (Stage("review", "Review", 50),), T0)
    await PipelineRepository(session).add(other)
    repository = OpportunityRepository(session)
    a = await new_deal(session, pipeline, "a", "10.5", path=("lead", "deal"))
    b = await new_deal(session, pipeline, "b", "20.000000007", currency="USD", owner="bob")
    c = await new_deal(session, pipeline, "c", "30", close=None)
    d = await new_deal(session, pipeline, "d", "40", outcome=State.WON)
    await new_deal(session, pipeline, "e", "50", probability=35)
    a.move_to(other, "review", T0 + timedelta(days=1))
    await repository.save(a, other, a.version - 1)
    b.close(State.WON, "", T0 + timedelta(days=2))
    await repository.save(b, pipeline, b.version - 1)
    c.update({"expected_close_date": date(2026, 4, 30)}, T0 + timedelta(days=3))
    await repository.save(c, pipeline, c.version - 1)
    d.reopen(T0 + timedelta(days=4))
    await repository.save(d, pipeline, d.version - 1)
    await repository.delete("e")
    maintained = await forecast_rows(session)
    assert maintained == await rebuilt_forecast_rows(session)
    # A new default probability for "lead" moves the weighted sums of its open deals.
    pipeline.update(None, (Stage("lead", "Lead", 20), *STAGES[1:]), T0 + timedelta(days=5))
    await PipelineRepository(session).save(pipeline, pipeline.version - 1)
    await repository.follow_stage_defaults(pipeline)
    assert await forecast_rows(session) == await rebuilt_forecast_rows(session)
    cells = {row[:7] for row in await forecast_rows(session)}
    # b was won in January (T0 + 2 days); d, reopened, is open again for February.
    assert (202601, "bob", "p", "USD", State.WON, ForecastCategory.COMMIT, 1) in cells
    assert (202602, "ada", "p", "EUR", State.OPEN, ForecastCategory.PIPELINE, 1) in cells


async def test_forecast_reads_whole_months_from_the_rollup_and_edges_from_deals(
    session: AsyncSession,
) -> None:
    pipeline = await new_pipeline(session)
    await new_deal(session, pipeline, "a", "10", close=date(2026, 1, 31))
    await new_deal(session, pipeline, "b", "20", close=date(2026, 2, 14))
    await new_deal(session, pipeline, "c", "40", close=date(2026, 3, 1))
    await new_deal(session, pipeline, "d", "80", close=date(2026, 3, 2))
    queries = ReportQueries(session)

    async def pipeline_total(first: date, last: date, expr: Expr | None = None) -> Decimal:
        buckets = await queries.forecast_buckets(
            DayRange(first, last), Period.QUARTER, expr, by_owner=False, by_pipeline=False
        )
        return sum((line.pipeline for line in forecast(buckets)), Decimal(0))

    assert await pipeline_total(date(2026, 1, 31), date(2026, 3, 1)) == 70
    assert await pipeline_total(date(2026, 2, 1), date(2026, 2, 28)) == 20
    assert await pipeline_total(date(2026, 2, 15), date(2026, 3, 1)) == 40
    assert await pipeline_total(date(2026, 1, 1), date(2026, 3, 31)) == 150
    owner_bob = parse_filter('owner = "bob"', FILTER_SCHEMA)
    assert await pipeline_total(date(2026, 1, 1), date(2026, 3, 31), owner_bob) == 0


def test_ranges_split_into_whole_months_and_cut_edges() -> None:
    def split(first: date, last: date) -> tuple[list[tuple[date, date]], object]:
        edges, months = whole_months(DayRange(first, last))
        return [(edge.first, edge.last) for edge in edges], months

    assert split(date(2026, 1, 1), date(2026, 3, 31)) == ([], (date(2026, 1, 1), date(2026, 3, 1)))
    assert split(date(2026, 1, 15), date(2026, 3, 10)) == (
        [(date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 3, 1), date(2026, 3, 10))],
        (date(2026, 2, 1), date(2026, 2, 1)),
    )
    assert split(date(2026, 1, 2), date(2026, 1, 30)) == (
        [(date(2026, 1, 2), date(2026, 1, 30))],
        None,
    )
    assert split(date(2025, 12, 2), date(2026, 1, 31)) == (
        [(date(2025, 12, 2), date(2025, 12, 31))],
        (date(2026, 1, 1), date(2026, 1, 1)),
    )


async def test_rollup_deltas_go_with_the_savepoint_or_transaction_that_wrote_them(
    session: AsyncSession,
) -> None:
    """Deals move the roll-ups as their transaction commits; a savepoint rolled
    back takes its deals' deltas back, a transaction rolled back drops them."""
    pipeline = await new_pipeline(session)
    await new_deal(session, pipeline, "kept", "10")
    with pytest.raises(RuntimeError):
        async with session.begin_nested():
            await new_deal(session, pipeline, "undone", "20")
            raise RuntimeError("a workflow action failed")
    await session.commit()
    await new_deal(session, pipeline, "rolled-back", "40")
    await session.rollback()
    assert await rollup_rows(session) == await rebuilt_rows(session)
    assert await forecast_rows(session) == await rebuilt_forecast_rows(session)
    figures = await ReportQueries(session).funnel_figures("p", None)
    assert [(f.count, f.amount) for f in figures.furthest] == [(1, Decimal(10))]
