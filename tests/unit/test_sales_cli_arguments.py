"""How `crm sales` and `crm projects` read what a sales admin types."""

import argparse
from decimal import Decimal

import pytest

from crm.projects.v1 import template_pb2
from crm.sales.v1 import pipeline_pb2
from crm_cli.arguments import slug
from crm_cli.money import money_amount, parse_money
from crm_cli.projects import template_item, template_spec
from crm_cli.rpc import CommandError
from crm_cli.sales import stage_spec
from crm_cli.sales_deals import find_stage


def test_ids_are_made_from_names() -> None:
    assert slug("New business") == "new-business"
    assert slug("  Closed: won!  ") == "closed-won"
    assert slug("Größe") == "gr-e"
    assert len(slug("x" * 100)) == 63


def test_a_stage_is_a_name_and_a_probability() -> None:
    assert stage_spec("Needs analysis:35") == pipeline_pb2.Stage(
        id="needs-analysis", display_name="Needs analysis", probability=35
    )
    assert stage_spec("Time: later:0").display_name == "Time: later"
    for bad in ("Qualified", "Qualified:", ":20", "Qualified:101", "Qualified:-5", "!!:5"):
        with pytest.raises(argparse.ArgumentTypeError):
            stage_spec(bad)


def test_money_is_exact() -> None:
    value = parse_money("12000.50", "eur")
    assert (value.currency_code, value.units, value.nanos) == ("EUR", 12000, 500_000_000)
    assert money_amount(parse_money("0.000000001", "USD")) == ("USD", Decimal("1E-9"))
    for bad in ("twelve", "NaN", "Infinity"):
        with pytest.raises(CommandError):
            parse_money(bad, "EUR")


def test_a_stage_is_found_by_id_or_name_in_any_case() -> None:
    pipeline = pipeline_pb2.Pipeline(
        display_name="New business",
        stages=[
            pipeline_pb2.Stage(
                id="proposal", name="pipelines/p/stages/proposal", display_name="Proposal"
            ),
            pipeline_pb2.Stage(
                id="old", name="pipelines/p/stages/old", display_name="Old", archived=True
            ),
        ],
    )
    assert find_stage(pipeline, "PROPOSAL") == "pipelines/p/stages/proposal"
    with pytest.raises(CommandError, match="no stage 'old'; its stages: Proposal"):
        find_stage(pipeline, "old")


def test_template_items_fall_into_the_milestone_before_them() -> None:
    milestone, task = template_item("milestone"), template_item("task")
    args = argparse.Namespace(
        display_name="Onboarding",
        description="",
        pipeline=[],
        fallback=True,
        items=[task("Intro:1"), milestone("Kick-off:7"), task("Welcome call:2"), task("Ratio 1:x")],
        assign_owner=True,
    )
    template = template_spec(args)
    assert [(m.key, m.display_name, m.due_offset_days) for m in template.milestones] == [
        ("m1", "Kick-off", 7)
    ]
    assert [(t.key, t.title, t.milestone, t.due_offset_days) for t in template.tasks] == [
        ("t1", "Intro", "", 1),
        ("t2", "Welcome call", "m1", 2),
        ("t3", "Ratio 1:x", "m1", 0),
    ]
    assert {t.default_assignee.role for t in template.tasks} == {template_pb2.DEAL_ROLE_OWNER}
    with pytest.raises(argparse.ArgumentTypeError):
        task(":3")
