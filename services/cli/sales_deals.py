"""`crm sales deal ...`: opportunities worked through a pipeline.

`deal list` shows deals (yours with --mine); `deal show ID` prints one with
its stage history; `deal move ID STAGE` moves it to another stage of its
pipeline; `deal win` / `deal lose ID --reason R` close it with a managed close
reason (`crm sales reasons`); `deal reopen ID` opens a closed deal again.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2

from crm.sales.v1 import opportunity_pb2, pipeline_pb2
from crm.sales.v1 import sales_service_pb2 as pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm_cli.arguments import enum_names, enum_value, limit, resource, user_argument
from crm_cli.money import money_text
from crm_cli.rpc import CommandError
from crm_cli.sales import (
    PIPELINES,
    SALES,
    all_pipelines,
    find_close_reason,
    pipeline_name,
)
from crm_cli.tables import enum_label, format_table, shorten, timestamp_text

OPPORTUNITIES = "opportunities/"
STATE_PREFIX = "OPPORTUNITY_STATE_"
NAME_WIDTH = 30
NEWEST_FIRST = "create_time desc"

# Display names of stages by their full names, `pipelines/P/stages/S`.
StageNames = Mapping[str, str]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deal = commands.add_parser(
        "deal",
        help="work deals: list, show, move, win, lose, reopen",
        description="Deal (opportunity) commands. ID is a deal's id or opportunities/ID.",
    )
    actions = deal.add_subparsers(title="commands", metavar="COMMAND", required=True)

    listing = actions.add_parser(
        "list", help="deals, newest first", description="Lists deals, newest first."
    )
    listing.add_argument("--pipeline", default="", help="only this pipeline's (id or pipelines/ID)")
    whose = listing.add_mutually_exclusive_group()
    whose.add_argument("--mine", action="store_true", help="only yours (see --user)")
    whose.add_argument("--owner", default="", help="only those of this owner (a user id)")
    user_argument(listing)
    states = enum_names(opportunity_pb2.OpportunityState, STATE_PREFIX)
    listing.add_argument(
        "--state",
        type=enum_value(opportunity_pb2.OpportunityState, STATE_PREFIX),
        metavar="|".join(state.lower() for state in states),
        help="only deals in this state (default: all)",
    )
    listing.add_argument(
        "--limit", type=limit, default=50, help="at most this many deals, 1-1000 (default 50)"
    )
    listing.set_defaults(func=list_command)

    show = actions.add_parser(
        "show",
        help="a deal with its stage history",
        description="Prints the deal's fields and the stages it went through, with when it "
        "entered and left each.",
    )
    _deal_argument(show)
    show.set_defaults(func=show_command)

    move = actions.add_parser(
        "move",
        help="move a deal to another stage",
        description="Moves the open deal to STAGE of its pipeline (the stage's id or name, "
        "any case); its probability follows the stage's unless it was overridden.",
    )
    _deal_argument(move)
    move.add_argument("stage", metavar="STAGE", help="the stage's id or name")
    move.set_defaults(func=move_command)

    for verb, kind in (("win", "won"), ("lose", "lost")):
        close = actions.add_parser(
            verb,
            help=f"close a deal as {kind}, with the reason",
            description=f"Closes the open deal as {kind.upper()} for --reason, one of the "
            f"{kind} reasons `crm sales reasons` lists (its id or name, any case).",
        )
        _deal_argument(close)
        close.add_argument("--reason", required=True, help=f"why it was {kind}")
        close.set_defaults(func=close_command, kind=kind)

    reopen = actions.add_parser(
        "reopen",
        help="open a won or lost deal again",
        description="Opens the closed deal again, in the stage it was closed in.",
    )
    _deal_argument(reopen)
    reopen.set_defaults(func=reopen_command)


def _deal_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "deal", type=resource(OPPORTUNITIES), metavar="ID", help="opportunities/ID or ID"
    )


# --- Commands ------------------------------------------------------------------------------


def list_command(args: argparse.Namespace) -> int:
    request = pb.ListOpportunitiesRequest(
        filter=deals_filter(args), order_by=NEWEST_FIRST, page_size=args.limit
    )
    try:
        with SALES.connect(SalesServiceStub) as sales:
            deals = list(sales.ListOpportunities(request).opportunities)
            stages = stage_names(all_pipelines(sales)) if deals else {}
    except CommandError as error:
        return SALES.fail(error)
    print(deals_table(deals, stages) if deals else "No deals.")
    return 0


def deals_filter(args: argparse.Namespace) -> str:
    terms = []
    if args.pipeline:
        terms.append(f'pipeline = "{pipeline_name(args.pipeline)}"')
    owner = args.user.removeprefix("users/") if args.mine else args.owner
    if owner:
        terms.append(f'owner = "{owner}"')
    if args.state:
        terms.append(f"state = {_state(args.state)}")
    return " AND ".join(terms)


def show_command(args: argparse.Namespace) -> int:
    try:
        with SALES.connect(SalesServiceStub) as sales:
            deal = sales.GetOpportunity(pb.GetOpportunityRequest(name=args.deal))
            pipeline = sales.GetPipeline(pb.GetPipelineRequest(name=deal.pipeline))
            reason = close_reason_label(sales, deal)
    except CommandError as error:
        return SALES.fail(error)
    print(deal_text(deal, pipeline, reason))
    return 0


def move_command(args: argparse.Namespace) -> int:
    def move(
        sales: SalesServiceStub, deal: opportunity_pb2.Opportunity
    ) -> opportunity_pb2.Opportunity:
        pipeline = sales.GetPipeline(pb.GetPipelineRequest(name=deal.pipeline))
        stage = find_stage(pipeline, args.stage)
        request = pb.MoveOpportunityRequest(name=deal.name, stage=stage, etag=deal.etag)
        return sales.MoveOpportunity(request)

    return _change(args.deal, move)


def close_command(args: argparse.Namespace) -> int:
    def close(
        sales: SalesServiceStub, deal: opportunity_pb2.Opportunity
    ) -> opportunity_pb2.Opportunity:
        reason = find_close_reason(sales, args.reason, args.kind)
        if args.kind == "won":
            return sales.WinOpportunity(
                pb.WinOpportunityRequest(name=deal.name, close_reason=reason, etag=deal.etag)
            )
        return sales.LoseOpportunity(
            pb.LoseOpportunityRequest(name=deal.name, close_reason=reason, etag=deal.etag)
        )

    return _change(args.deal, close)


def reopen_command(args: argparse.Namespace) -> int:
    def reopen(
        sales: SalesServiceStub, deal: opportunity_pb2.Opportunity
    ) -> opportunity_pb2.Opportunity:
        return sales.ReopenOpportunity(pb.ReopenOpportunityRequest(name=deal.name, etag=deal.etag))

    return _change(args.deal, reopen)


def _change(
    name: str,
    change: Callable[[SalesServiceStub, opportunity_pb2.Opportunity], opportunity_pb2.Opportunity],
) -> int:
    """Reads the deal, changes it (guarded by the etag read), prints where it stands."""
    try:
        with SALES.connect(SalesServiceStub) as sales:
            deal = sales.GetOpportunity(pb.GetOpportunityRequest(name=name))
            changed = change(sales, deal)
            pipeline = sales.GetPipeline(pb.GetPipelineRequest(name=changed.pipeline))
            reason = close_reason_label(sales, changed)
    except CommandError as error:
        return SALES.fail(error)
    where = standing(changed, pipeline, reason)
    print(f"{changed.display_name} ({short_deal(changed.name)}): {where}.")
    return 0


# --- Lookups and output --------------------------------------------------------------------


def find_stage(pipeline: pipeline_pb2.Pipeline, text: str) -> str:
    """The full name of the unarchived stage `text` names by id or display name."""
    wanted = text.strip().casefold()
    for stage in pipeline.stages:
        if not stage.archived and wanted in (stage.id, stage.display_name.casefold()):
            return stage.name
    choices = ", ".join(s.display_name for s in pipeline.stages if not s.archived)
    raise CommandError(f"{pipeline.display_name} has no stage {text!r}; its stages: {choices}")


def stage_names(pipelines: Sequence[pipeline_pb2.Pipeline]) -> StageNames:
    return {stage.name: stage.display_name for p in pipelines for stage in p.stages}


def close_reason_label(sales: SalesServiceStub, deal: opportunity_pb2.Opportunity) -> str:
    """The display name of the reason the deal was closed for; empty while open."""
    if not deal.close_reason:
        return ""
    request = pb.GetCloseReasonRequest(name=deal.close_reason)
    return str(sales.GetCloseReason(request).display_name)


def standing(
    deal: opportunity_pb2.Opportunity, pipeline: pipeline_pb2.Pipeline, reason: str
) -> str:
    """`OPEN in Proposal (60%)`, `WON in Negotiation (100%): Best price`."""
    stage = stage_names([pipeline]).get(deal.stage, deal.stage)
    text = f"{_state(deal.state)} in {stage} ({deal.effective_probability}%)"
    return f"{text}: {reason}" if reason else text


def deals_table(deals: Sequence[opportunity_pb2.Opportunity], stages: StageNames) -> str:
    rows = [("DEAL", "NAME", "VALUE", "STAGE", "PROB", "STATE", "OWNER", "CLOSES")]
    rows += [
        (
            short_deal(deal.name),
            shorten(deal.display_name, NAME_WIDTH),
            money_text(deal.value),
            stages.get(deal.stage, deal.stage),
            f"{deal.effective_probability}%",
            _state(deal.state),
            deal.owner or "-",
            _closes(deal),
        )
        for deal in deals
    ]
    return format_table(rows)


def deal_text(
    deal: opportunity_pb2.Opportunity, pipeline: pipeline_pb2.Pipeline, reason: str
) -> str:
    stages = stage_names([pipeline])
    fields = [
        ("State", standing(deal, pipeline, reason)),
        ("Value", money_text(deal.value)),
        ("Pipeline", f"{pipeline.display_name} ({pipeline.name.removeprefix(PIPELINES)})"),
        (
            "Forecast",
            enum_label(
                opportunity_pb2.ForecastCategory,
                deal.effective_forecast_category,
                "FORECAST_CATEGORY_",
            ),
        ),
        ("Expected close", _date(deal.expected_close_date)),
        ("Closed", timestamp_text(deal.close_time, "")),
        ("Owner", deal.owner),
        ("Organization", deal.organization),
        ("People", ", ".join(deal.people)),
        ("Tags", ", ".join(deal.tags)),
        *((f"custom.{key}", value) for key, value in sorted(deal.custom_fields.items())),
        ("Created", timestamp_text(deal.create_time)),
        ("Updated", timestamp_text(deal.update_time)),
        ("Name", deal.name),
    ]
    shown = [(label, value) for label, value in fields if value]
    width = max(len(label) for label, _ in shown) + 1
    lines = [f"Deal {short_deal(deal.name)}: {deal.display_name}", ""]
    lines += [f"{label + ':':<{width}} {value}" for label, value in shown]
    lines += ["", "Stage history:"]
    rows = [("  STAGE", "ENTERED", "LEFT", "DAYS")]
    rows += [
        (
            f"  {stages.get(visit.stage, visit.stage)}",
            timestamp_text(visit.enter_time),
            timestamp_text(visit.leave_time, "(now)"),
            _days(visit.enter_time, visit.leave_time),
        )
        for visit in deal.stage_history
    ]
    lines.append(format_table(rows))
    return "\n".join(lines)


def short_deal(name: str) -> str:
    return name.removeprefix(OPPORTUNITIES)


def _days(entered: Timestamp, left: Timestamp) -> str:
    end = left.ToDatetime(tzinfo=UTC) if left.seconds or left.nanos else datetime.now(UTC)
    return f"{(end - entered.ToDatetime(tzinfo=UTC)).total_seconds() / 86400:.1f}"


def _closes(deal: opportunity_pb2.Opportunity) -> str:
    if deal.state != opportunity_pb2.OPPORTUNITY_STATE_OPEN:
        return timestamp_text(deal.close_time)[:10]
    return _date(deal.expected_close_date) or "-"


def _date(value: date_pb2.Date) -> str:
    return f"{value.year:04}-{value.month:02}-{value.day:02}" if value.year else ""


def _state(value: int) -> str:
    return enum_label(opportunity_pb2.OpportunityState, value, STATE_PREFIX, "-")
