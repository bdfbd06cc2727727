"""`python -m bench.sales_scale [--opportunities N] [--quick] [--keep]`: sales at scale.

Seeds N opportunities (default 1,000,000; `--quick` 20,000) into a fresh
PostgreSQL database, then measures, through gRPC against the sales service
running as its own process: filtered ListOpportunities pages, GetForecast and
GetFunnelReport. The targets (p99 <= 20 ms for the lists, <= 50 ms for the
forecast and the funnel) come from the issue.

Pipelines, close reasons and exchange rates are created through the service's
API. Opportunities are built by the domain (`Opportunity.create`, `move_to`,
`close`) over three years of history and turned into rows by the repository's
own function, then COPYed in batches with secondary indexes dropped and
rebuilt afterwards, then VACUUM ANALYZE. That is set-up, not the create path.

The table goes to stdout, progress to stderr, everything (raw samples, plans,
sizes, machine) to bench/sales_results.json.
"""

import argparse
import asyncio
import contextlib
import math
import os
import random
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from google.type import date_pb2

import crm_sales
from bench.cpu import CpuMeter, one, with_children
from bench.load import Load, drive, warm_then_drive
from bench.machine import machine
from bench.processes import admin_channel
from bench.report import Row
from bench.scale import (
    Plan,
    PlanRecorder,
    ScaleRun,
    Servers,
    copy_rows,
    drop_secondary_indexes,
    finish_load,
    found_note,
    info,
    interrupt,
    latency_rows,
    mb,
    record,
    report,
    run_alone,
    sayer,
    sizes_note,
    start_service,
    table_figures,
)
from crm.sales.v1 import close_reason_pb2, exchange_rate_pb2, pipeline_pb2
from crm.sales.v1 import forecast_service_pb2 as forecast_pb
from crm.sales.v1 import sales_service_pb2 as sales_pb
from crm.sales.v1.forecast_service_pb2_grpc import ForecastServiceStub
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm_common.listing import list_request
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from crm_common.storage.migrations import upgrade_to_head
from crm_sales.api.opportunities import FILTER_SCHEMA, NEWEST_FIRST, SORTABLE
from crm_sales.domain.forecast import Period
from crm_sales.domain.money import Money
from crm_sales.domain.opportunities import (
    ForecastCategory,
    Opportunity,
    OpportunityDetails,
    State,
)
from crm_sales.domain.pipelines import Pipeline
from crm_sales.domain.reports import DayRange
from crm_sales.handlers import forecasts as forecast_handlers
from crm_sales.handlers import opportunities as opportunity_handlers
from crm_sales.handlers.forecasts import Currency
from crm_sales.storage.funnel import FunnelRollup, opportunity_reach, reach_rows
from crm_sales.storage.opportunities import (
    OpportunityRepository,
    _row,
    opportunities,
    opportunity_people,
    opportunity_stage_history,
    opportunity_tags,
    stage_positions,
)
from crm_sales.storage.pipelines import PipelineRepository

RESULTS = Path(__file__).parent / "sales_results.json"
SALES_MIGRATIONS = Path(crm_sales.__file__).parent / "storage" / "migrations"
FULL_OPPORTUNITIES = 1_000_000
QUICK_OPPORTUNITIES = 20_000
BATCH = 10_000
SEED = 20261126
LIST_TARGET_P99_MS = 20.0
REPORT_TARGET_P99_MS = 50.0
CALL_TIMEOUT = 120.0
PAGE_SIZE = 50
# The seeded deals were opened over the three years before the run.
HISTORY = timedelta(days=1095)
BASE_CURRENCY = "EUR"


@dataclass(frozen=True)
class Counts:
    lists: int
    reports: int
    warmup: int


FULL = Counts(lists=300, reports=100, warmup=20)
QUICK = Counts(lists=100, reports=40, warmup=10)
# bench.scale_suite: every figure here is judged.
SUITE = FULL
SUITE_QUICK = Counts(lists=60, reports=20, warmup=3)


say = sayer("sales")


# ------------------------------------------------------------------ the sales set-up

# (id, display name, share of deals, stages as (id, display name, probability)).
PIPELINES = (
    (
        "new-business",
        "New business",
        60,
        (
            ("qualify", "Qualify", 10),
            ("discover", "Discover", 25),
            ("propose", "Propose", 50),
            ("negotiate", "Negotiate", 75),
            ("commit", "Commit", 90),
        ),
    ),
    (
        "renewals",
        "Renewals",
        25,
        (("review", "Review", 50), ("quote", "Quote", 75), ("sign", "Sign", 90)),
    ),
    (
        "partners",
        "Partners",
        15,
        (
            ("intro", "Intro", 10),
            ("evaluate", "Evaluate", 30),
            ("pilot", "Pilot", 60),
            ("contract", "Contract", 85),
        ),
    ),
)
WON_REASONS = ("best-price", "features", "relationship")
LOST_REASONS = ("price", "competitor", "no-budget", "timing")
# Units of EUR per unit of the currency.
RATES = {"USD": "0.92", "GBP": "1.17"}
CURRENCIES = (("EUR", 50), ("USD", 35), ("GBP", 15))
OWNERS = 200
TAGS = (("inbound", 0.30), ("upsell", 0.15), ("referral", 0.08), ("vip", 0.05))
PEOPLE_SHARE = 0.4
PROBABILITY_OVERRIDE_SHARE = 0.1
CATEGORY_OVERRIDE_SHARE = 0.05
# Deals younger than this are mostly still open; older ones are mostly closed,
# bar a few left open long past their expected close date.
RECENT = timedelta(days=150)
STUCK_SHARE = 0.02


def owner(index: int) -> str:
    return f"rep-{index:03d}"


async def set_up_sales(address: str) -> None:
    """Pipelines, close reasons and exchange rates through the service's API."""
    async with admin_channel(address) as channel:
        await channel.channel_ready()
        sales = SalesServiceStub(channel)
        for pipeline_id, display_name, _, stages in PIPELINES:
            await sales.CreatePipeline(
                sales_pb.CreatePipelineRequest(
                    pipeline=pipeline_pb2.Pipeline(
                        display_name=display_name,
                        stages=[
                            pipeline_pb2.Stage(id=s, display_name=n, probability=p)
                            for s, n, p in stages
                        ],
                    ),
                    pipeline_id=pipeline_id,
                )
            )
        for kind, reasons in (
            (close_reason_pb2.CLOSE_REASON_KIND_WON, WON_REASONS),
            (close_reason_pb2.CLOSE_REASON_KIND_LOST, LOST_REASONS),
        ):
            for reason in reasons:
                await sales.CreateCloseReason(
                    sales_pb.CreateCloseReasonRequest(
                        close_reason=close_reason_pb2.CloseReason(
                            display_name=reason.replace("-", " ").capitalize(), kind=kind
                        ),
                        close_reason_id=reason,
                    )
                )
        rates = ForecastServiceStub(channel)
        for code, rate in RATES.items():
            await rates.UpdateExchangeRate(
                forecast_pb.UpdateExchangeRateRequest(
                    exchange_rate=exchange_rate_pb2.ExchangeRate(
                        name=f"exchangeRates/{code}", rate=rate
                    ),
                    allow_missing=True,
                )
            )


async def load_pipelines(url: str) -> list[Pipeline]:
    """The pipelines as the service stored them, for the domain to build deals in."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            repository = PipelineRepository(session)
            found = [await repository.get(pipeline_id) for pipeline_id, *_ in PIPELINES]
    finally:
        await engine.dispose()
    return [pipeline for pipeline in found if pipeline is not None]


# ------------------------------------------------------------------ the deals


def _days(rng: random.Random, median: float) -> timedelta:
    """A lognormal span with the given median in days (a long tail, as sales cycles have)."""
    return timedelta(days=rng.lognormvariate(math.log(median), 0.8))


def _amount(rng: random.Random) -> Decimal:
    cents = int(rng.lognormvariate(math.log(12_000), 1.0) * 100)
    return Decimal(cents) / 100


def _details(rng: random.Random, created: datetime, number: int) -> OpportunityDetails:
    currency = rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]
    category = None
    if rng.random() < CATEGORY_OVERRIDE_SHARE:
        category = rng.choice(list(ForecastCategory))
    return OpportunityDetails(
        display_name=f"Deal {number}",
        value=Money(currency, _amount(rng)),
        expected_close_date=(created + _days(rng, 45)).date(),
        probability=rng.randrange(5, 96, 5) if rng.random() < PROBABILITY_OVERRIDE_SHARE else None,
        forecast_category=category,
        owner=owner(rng.randrange(OWNERS)),
        people=(f"people/c{rng.randrange(100_000)}",) if rng.random() < PEOPLE_SHARE else (),
        tags=tuple(tag for tag, share in TAGS if rng.random() < share),
    )


def build_opportunity(
    number: int, created: datetime, now: datetime, pipelines: list[Pipeline], rng: random.Random
) -> tuple[Opportunity, Pipeline]:
    """A deal as the service would hold it after its life so far: stage moves
    (sometimes skipping one), then won or lost, or still open."""
    pipeline = rng.choices(pipelines, [share for _, _, share, _ in PIPELINES])[0]
    stages = [stage.id for stage in pipeline.stages]
    opportunity_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    deal = Opportunity.create(
        opportunity_id, _details(rng, created, number), pipeline, stages[0], created
    )
    # How far the deal gets: later stages are reached by fewer deals.
    reach = min(len(stages) - 1, int(rng.expovariate(0.7)))
    moment = created
    position = 0
    while position < reach:
        moment += _days(rng, 9)
        if moment >= now:
            break
        position += 2 if position + 2 <= reach and rng.random() < 0.1 else 1
        deal.move_to(pipeline, stages[position], moment)
    old = now - created > RECENT
    closes = rng.random() >= STUCK_SHARE if old else rng.random() < 0.35
    closed_at = moment + _days(rng, 12)
    if closes and closed_at < now:
        won = rng.random() < 0.15 + 0.6 * position / (len(stages) - 1)
        if won:
            deal.close(State.WON, rng.choice(WON_REASONS), closed_at)
        else:
            deal.close(State.LOST, rng.choice(LOST_REASONS), closed_at)
    return deal, pipeline


SEEDED = (
    opportunities,
    opportunity_stage_history,
    opportunity_people,
    opportunity_tags,
    opportunity_reach,
)
# Summed from the reach rows and the deals once they are all in, by the service's
# own statements.
ROLLUPS = ["funnel_rollup", "forecast_rollup"]


def build_batch(
    first: int, count: int, total: int, start: datetime, now: datetime, pipelines: list[Pipeline]
) -> dict[str, list[tuple[Any, ...]]]:
    """Deals first..first+count-1, oldest first (the heap is in creation order)."""
    rng = random.Random(SEED * 1_000_003 + first)
    step = HISTORY / total
    rows: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in SEEDED}
    positions = {pipeline.id: stage_positions(pipeline) for pipeline in pipelines}
    for index in range(first, first + count):
        created = start + step * (index + rng.random())
        deal, pipeline = build_opportunity(index + 1, created, now, pipelines, rng)
        rows["opportunities"].append(record(opportunities, _row(deal, pipeline)))
        # As OpportunityRepository writes a deal's children.
        rows["opportunity_stage_history"] += [
            (
                deal.id,
                position,
                visit.pipeline_id,
                visit.stage_id,
                visit.enter_time,
                visit.leave_time,
            )
            for position, visit in enumerate(deal.stage_history)
        ]
        rows["opportunity_people"] += [
            (deal.id, person, position) for position, person in enumerate(deal.details.people)
        ]
        rows["opportunity_tags"] += [(deal.id, tag) for tag in deal.details.tags]
        rows["opportunity_reach"] += [
            record(opportunity_reach, row) for row in reach_rows(deal, positions)
        ]
    return rows


@dataclass
class Seeded:
    opportunities: int
    rows: int
    seconds: dict[str, float]
    table_rows: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.opportunities / self.seconds["load"]


async def rebuild_rollups(url: str) -> None:
    """The funnel roll-up summed from the seeded reach rows, as the service does
    after a reorder of stages (and migration 0009 as its backfill), and the
    forecast roll-up from the deals, as after a change of stage probabilities
    (and migration 0010)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await FunnelRollup(session).rebuild()
            await OpportunityRepository(session).rebuild_forecast_rollup()
    finally:
        await engine.dispose()


async def seed(dsn: str, url: str, total: int, pipelines: list[Pipeline], now: datetime) -> Seeded:
    start = now - HISTORY
    connection = await asyncpg.connect(dsn)
    seconds: dict[str, float] = {}
    names = [t.name for t in SEEDED] + ROLLUPS
    try:
        indexes = await drop_secondary_indexes(connection, names)
        say(f"dropped {len(indexes)} secondary indexes until the load is done")
        began = time.perf_counter()
        rows = 0

        def build(first: int) -> dict[str, list[tuple[Any, ...]]]:
            return build_batch(first, min(BATCH, total - first), total, start, now, pipelines)

        firsts = list(range(0, total, BATCH))
        pending = asyncio.ensure_future(asyncio.to_thread(build, firsts[0]))
        for position, first in enumerate(firsts):
            batch = await pending
            if position + 1 < len(firsts):
                pending = asyncio.ensure_future(asyncio.to_thread(build, firsts[position + 1]))
            rows += await copy_rows(connection, SEEDED, batch)
            done = first + len(batch["opportunities"])
            if position % 10 == 9 or done == total:
                rate = done / (time.perf_counter() - began)
                say(f"seeded {done:,} of {total:,} opportunities ({rate:,.0f}/s)")
        seconds["load"] = time.perf_counter() - began
        began = time.perf_counter()
        await rebuild_rollups(url)
        seconds["rollup"] = time.perf_counter() - began
        say(f"summed the funnel and forecast roll-ups in {seconds['rollup']:.1f} s")
        await finish_load(connection, names, indexes, seconds, say)
        result = Seeded(total, rows, seconds)
        result.table_rows, result.sizes = await table_figures(connection, names)
        for row in await connection.fetch(
            "SELECT state, count(*) FROM opportunities GROUP BY state"
        ):
            result.states[State(row["state"]).name] = row["count"]
    finally:
        await connection.close()
    return result


# ------------------------------------------------------------------ the calls


@dataclass(frozen=True)
class ListShape:
    label: str
    filters: list[str]
    order_by: str = ""


def list_shapes(today: date) -> list[ListShape]:
    """Each list figure's requests; a figure cycles through its filters."""
    month = today.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    return [
        ListShape(
            "open deals of an owner",
            [f'state = OPEN AND owner = "{owner(n)}"' for n in range(0, OWNERS, 7)],
        ),
        ListShape(
            "open in a pipeline, tag vip",
            [
                f'state = OPEN AND pipeline = "pipelines/{pipeline_id}" AND tags:"vip"'
                for pipeline_id, *_ in PIPELINES
            ],
        ),
        ListShape(
            "open, closing this month, by value",
            [
                f'state = OPEN AND expected_close_date >= "{month.isoformat()}" '
                f'AND expected_close_date < "{next_month.isoformat()}"'
            ],
            "value desc",
        ),
    ]


def _date(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class ReportShape:
    label: str
    requests: list[Any]


def report_shapes(today: date) -> list[ReportShape]:
    this_quarter = quarter_start(today)
    six_months = quarter_start(this_quarter + timedelta(days=190)) - timedelta(days=1)
    year_ago = today - timedelta(days=364)
    last_90 = today - timedelta(days=89)
    return [
        ReportShape(
            "GetForecast this and next quarter, per owner and pipeline",
            [
                forecast_pb.GetForecastRequest(
                    period=forecast_pb.REPORT_PERIOD_QUARTER,
                    start_date=_date(this_quarter),
                    end_date=_date(six_months),
                    group_by=forecast_pb.FORECAST_GROUPING_OWNER_AND_PIPELINE,
                )
            ],
        ),
        ReportShape(
            "GetForecast 12 months monthly, in EUR",
            [
                forecast_pb.GetForecastRequest(
                    period=forecast_pb.REPORT_PERIOD_MONTH,
                    start_date=_date(year_ago),
                    end_date=_date(today),
                    currency_code=BASE_CURRENCY,
                )
            ],
        ),
        ReportShape(
            "GetFunnelReport deals created in the last 90 days, in EUR",
            [
                forecast_pb.GetFunnelReportRequest(
                    pipeline=f"pipelines/{pipeline_id}",
                    start_date=_date(last_90),
                    end_date=_date(today),
                    currency_code=BASE_CURRENCY,
                )
                for pipeline_id, *_ in PIPELINES
            ],
        ),
        ReportShape(
            "GetFunnelReport all time",
            [
                forecast_pb.GetFunnelReportRequest(pipeline=f"pipelines/{pipeline_id}")
                for pipeline_id, *_ in PIPELINES
            ],
        ),
    ]


@dataclass
class Measured:
    loads: dict[str, Load] = field(default_factory=dict)
    requests: dict[str, Any] = field(default_factory=dict)
    # Results per call (page sizes, report lines), to show the calls found something.
    found: dict[str, list[int]] = field(default_factory=dict)
    # Load name -> p99 target (ms), for the figures the issue judges.
    targets: dict[str, float] = field(default_factory=dict)


async def measure(address: str, counts: Counts, meter: CpuMeter, today: date) -> Measured:
    measured = Measured()
    async with admin_channel(address) as channel:
        await channel.channel_ready()
        sales = SalesServiceStub(channel)
        forecasts = ForecastServiceStub(channel)

        for shape in list_shapes(today):
            name = f"ListOpportunities {shape.label}"
            sizes: list[int] = []

            async def list_page(
                index: int, shape: ListShape = shape, sizes: list[int] = sizes
            ) -> None:
                request = sales_pb.ListOpportunitiesRequest(
                    page_size=PAGE_SIZE,
                    filter=shape.filters[index % len(shape.filters)],
                    order_by=shape.order_by,
                )
                response = await sales.ListOpportunities(request, timeout=CALL_TIMEOUT)
                sizes.append(len(response.opportunities))

            say(f"{name}: {counts.lists} sequential pages of {PAGE_SIZE}")
            await drive(list_page, counts.warmup, 1)
            sizes.clear()
            measured.loads[name] = await drive(list_page, counts.lists, 1, meter)
            measured.requests[name] = {"filters": shape.filters, "order_by": shape.order_by}
            measured.found[name] = sizes
            measured.targets[name] = LIST_TARGET_P99_MS

        for report in report_shapes(today):
            lines: list[int] = []

            async def get_report(
                index: int, report: ReportShape = report, lines: list[int] = lines
            ) -> None:
                request = report.requests[index % len(report.requests)]
                if isinstance(request, forecast_pb.GetForecastRequest):
                    forecast = await forecasts.GetForecast(request, timeout=CALL_TIMEOUT)
                    lines.append(len(forecast.lines))
                else:
                    funnel = await forecasts.GetFunnelReport(request, timeout=CALL_TIMEOUT)
                    lines.append(sum(stage.reached_count for stage in funnel.stages[:1]))

            say(f"{report.label}: {counts.reports} sequential calls")
            measured.loads[report.label] = await warm_then_drive(
                get_report, counts.reports, 1, counts.warmup, meter
            )
            lines[:] = lines[counts.warmup :]
            measured.requests[report.label] = [str(r) for r in report.requests]
            measured.found[report.label] = lines
            measured.targets[report.label] = REPORT_TARGET_P99_MS
    return measured


# ------------------------------------------------------------------ plans


async def explain(url: str, today: date) -> list[Plan]:
    """Plans of the list, forecast and funnel statements, run through the service's handlers."""
    engine = create_engine(url)
    recorder = PlanRecorder(engine)
    sessions = session_factory(engine)

    def units() -> UnitOfWork:
        return UnitOfWork(sessions, "sales")

    currency = Currency(BASE_CURRENCY, BASE_CURRENCY)
    try:
        for shape in list_shapes(today):
            request = sales_pb.ListOpportunitiesRequest(
                page_size=PAGE_SIZE, filter=shape.filters[0], order_by=shape.order_by
            )
            query = list_request(request, FILTER_SCHEMA, SORTABLE, NEWEST_FIRST)
            with recorder.recording(
                f"ListOpportunities {shape.label}: {request.filter}",
                f"ListOpportunities {shape.label}",
            ):
                await opportunity_handlers.list_opportunities(
                    units(), query.expr, query.keys, None, query.size
                )
        quarterly, yearly, funnel_90_days, funnel_all_time = report_shapes(today)
        this_quarter = quarter_start(today)
        six_months = quarter_start(this_quarter + timedelta(days=190)) - timedelta(days=1)
        with recorder.recording(quarterly.label):
            await forecast_handlers.get_forecast(
                units(),
                DayRange(this_quarter, six_months),
                Period.QUARTER,
                None,
                by_owner=True,
                by_pipeline=True,
                currency=Currency(BASE_CURRENCY),
            )
        with recorder.recording(yearly.label):
            await forecast_handlers.get_forecast(
                units(),
                DayRange(today - timedelta(days=364), today),
                Period.MONTH,
                None,
                by_owner=False,
                by_pipeline=False,
                currency=currency,
            )
        pipeline_id = PIPELINES[0][0]
        with recorder.recording(
            f"GetFunnelReport {pipeline_id}, created in the last 90 days", funnel_90_days.label
        ):
            await forecast_handlers.get_funnel(
                units(), pipeline_id, DayRange(today - timedelta(days=89), today), currency
            )
        with recorder.recording(f"GetFunnelReport {pipeline_id}, all time", funnel_all_time.label):
            await forecast_handlers.get_funnel(units(), pipeline_id, None, currency)
    finally:
        await engine.dispose()
    return recorder.plans


# ------------------------------------------------------------------ report


def rows_for(seeded: Seeded, measured: Measured) -> list[Row]:
    rows = [info("seed opportunities/s (setup)", "deals/s", seeded.per_second)]
    for name, load in measured.loads.items():
        rows += latency_rows(name, load, measured.targets.get(name))
    return rows


def notes(seeded: Seeded, measured: Measured) -> list[str]:
    found = []
    for name, counts in measured.found.items():
        if counts:
            what = "lines"
            if name.startswith("List"):
                what = "deals a page"
            elif name.startswith("GetFunnelReport"):
                what = "deals reaching the first stage"
            found.append(found_note(name, counts, what))
    states = f"opportunities ({seeded.states})"
    return [sizes_note(seeded.opportunities, states, seeded.sizes, seeded.seconds), *found]


# ------------------------------------------------------------------ the run


def scale_run(servers: Servers, total: int, counts: Counts) -> ScaleRun:
    """Sets pipelines up through the API, seeds `total` deals into a fresh database
    on `servers`, measures through the sales service (started here, stopped
    before returning) and explains."""
    database = servers.database("sales")
    asyncio.run(upgrade_to_head(database.url, SALES_MIGRATIONS))
    say("setting up pipelines, close reasons and exchange rates through the API")
    with contextlib.ExitStack() as setup:
        sales = start_service(
            setup, "sales", database.url, servers.nats.url, servers.logs(f"sales-setup-{total}")
        )
        asyncio.run(set_up_sales(sales.address))
    pipelines = asyncio.run(load_pipelines(database.url))
    now = datetime.now(UTC)
    say(f"seeding {total:,} opportunities")
    seeded = asyncio.run(seed(database.dsn, database.url, total, pipelines, now))
    say(
        f"seeded {seeded.opportunities:,} opportunities, {seeded.rows:,} rows in "
        f"{seeded.seconds['load']:.0f} s ({seeded.per_second:,.0f}/s); "
        f"database {mb(seeded.sizes['database'])}"
    )
    today = now.date()
    with contextlib.ExitStack() as stack:
        say("starting the sales service")
        sales = start_service(
            stack, "sales", database.url, servers.nats.url, servers.logs(f"sales-{total}")
        )
        meter = CpuMeter(
            {
                "client": one(os.getpid()),
                "server": one(sales.pid),
                "nats-server": one(servers.nats.pid),
                "postgres": with_children(servers.postgres.pid),
            }
        )
        measured = asyncio.run(measure(sales.address, counts, meter, today))
    say("EXPLAIN (ANALYZE, BUFFERS) of the list, forecast and funnel statements")
    plans = asyncio.run(explain(database.url, today))
    return ScaleRun(
        service="sales",
        size=total,
        unit="deals",
        rows=rows_for(seeded, measured),
        loads=measured.loads,
        targets=measured.targets,
        plans=plans,
        seeded_tables=tuple(table_.name for table_ in SEEDED),
        notes=notes(seeded, measured),
        details={
            "seeding": {
                "opportunities": seeded.opportunities,
                "rows": seeded.rows,
                "seconds": seeded.seconds,
                "states": seeded.states,
                "table_rows": seeded.table_rows,
                "sizes_bytes": seeded.sizes,
            },
            "requests": measured.requests,
            "results_per_call": measured.found,
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sales_scale", description=__doc__)
    parser.add_argument(
        "--opportunities", type=int, help=f"deals to seed (default {FULL_OPPORTUNITIES:,})"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_OPPORTUNITIES:,} deals and fewer calls"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    total = args.opportunities or (QUICK_OPPORTUNITIES if args.quick else FULL_OPPORTUNITIES)
    counts = QUICK if args.quick else FULL
    if total < BATCH:
        parser.error(f"--opportunities must be at least {BATCH:,}")
    signal.signal(signal.SIGTERM, interrupt)
    meta = machine(["postgresql"], args.quick, counts)
    meta["opportunities"] = total
    meta["notes"] = [
        "client (this process), sales, postgres and nats-server share the machine's cores",
        "every figure is sequential calls (concurrency 1)",
        "PostgreSQL runs with the project's PostgresServer settings (fsync off, defaults else)",
    ]
    say(
        f"{total:,} opportunities on {meta['nproc']} cores ({meta['cpu']}), "
        f"{meta.get('postgresql')}"
    )
    try:
        run = run_alone("sales", args.keep, say, lambda s: scale_run(s, total, counts))
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    report(run, meta, RESULTS, say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
