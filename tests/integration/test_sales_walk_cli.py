"""A lead walked from first contact to a won deal and its project, through the
`crm` command alone: real `crm` processes against the contacts, sales and
projects services, on SQLite and PostgreSQL."""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from tests.integration.harness import Suite, eventually

CRM = Path(sys.executable).with_name("crm")


def crm(suite: Suite, *args: str) -> str:
    """`crm ARGS`'s output; fails the test when the command fails."""
    done = subprocess.run(
        [str(CRM), *args],
        env={
            **os.environ,
            "CRM_CONTACTS_TARGET": suite.processes["contacts"].address,
            "CRM_SALES_TARGET": suite.processes["sales"].address,
            "CRM_PROJECTS_TARGET": suite.processes["projects"].address,
            "CRM_USER": "users/ada",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (args, done.stderr)
    assert not done.stderr, (args, done.stderr)
    return done.stdout


def test_a_lead_is_scored_converted_won_and_becomes_a_project(projects_suite: Suite) -> None:
    suite = projects_suite
    suffix = uuid.uuid4().hex[:8]

    # A sales admin's setup: scoring rules, a pipeline, a close reason, a template.
    crm(
        suite,
        "sales",
        "scoring",
        "add",
        "Referred",
        "--points",
        "20",
        "--when",
        'source = "referral"',
    )
    crm(
        suite, "sales", "scoring", "add", "Opened our email", "--points", "5",
        "--activity", "email_opened", "--cap", "15",
    )  # fmt: skip
    assert "per email_opened (at most 15)" in crm(suite, "sales", "scoring", "rules")
    created = crm(
        suite, "sales", "pipeline", "create", f"New business {suffix}",
        "--stage", "Qualified:20", "--stage", "Proposal:60", "--stage", "Negotiation:80",
    )  # fmt: skip
    pipeline = f"new-business-{suffix}"
    assert f"(pipelines/{pipeline}): Qualified (qualified, 20%)" in created
    crm(suite, "sales", "reasons", "--add", "won", f"Best value {suffix}")
    assert f"Best value {suffix}" in crm(suite, "sales", "reasons")
    template = crm(
        suite, "projects", "template", "create", "Onboarding", "--pipeline", pipeline,
        "--milestone", "Kick-off:7", "--task", "Welcome call:2", "--task", "Set up accounts:5",
        "--milestone", "Go live:30", "--task", "Train the team:21", "--assign-owner",
    )  # fmt: skip
    assert "2 milestone(s), 3 task(s)" in template

    # The lead: scored on creation and on what it does.
    lead_created = crm(
        suite, "sales", "lead", "create", "--given-name", "Ada", "--family-name", "Lovelace",
        "--email", f"ada-{suffix}@example.com", "--company", f"Engines {suffix}",
        "--source", "referral",
    )  # fmt: skip
    match = re.fullmatch(
        rf"Created lead (\S+): Ada Lovelace \(Engines {suffix}\), score 20\.\n", lead_created
    )
    assert match, lead_created
    lead = match.group(1)
    activity = crm(suite, "sales", "lead", "activity", lead, "email_opened")
    assert (
        activity == f"Recorded email_opened for Ada Lovelace (Engines {suffix}): score 25 (+5).\n"
    )
    shown = crm(suite, "sales", "lead", "show", lead)
    assert re.search(r"Status:\s+NEW", shown) and re.search(r"Score:\s+25", shown), shown
    assert re.search(r"Owner:\s+ada\n", shown), shown
    breakdown = shown[shown.index("Score breakdown:") :].splitlines()
    assert breakdown[1].split() == ["RULE", "POINTS", "WHY"]
    assert any(re.match(r"\s+Referred\s+\+20\s+\S", line) for line in breakdown), shown
    assert any(re.match(r"\s+Opened our email\s+\+5\s+\S", line) for line in breakdown), shown
    listed = crm(suite, "sales", "lead", "list", "--status", "new")
    assert next(row for row in listed.splitlines() if row.startswith(lead)).split()[1:3] == [
        "25",
        "NEW",
    ]

    # Qualified and converted into a customer with a deal.
    assert "is QUALIFIED (was NEW)" in crm(suite, "sales", "lead", "qualify", lead)
    converted = crm(
        suite, "sales", "lead", "convert", lead, "--opportunity", "Engines rollout",
        "--value", "12000.50", "EUR", "--pipeline", pipeline,
    )  # fmt: skip
    deal = re.search(r"opportunity\s+opportunities/(\S+)", converted).group(1)  # type: ignore[union-attr]
    assert re.search(r"person\s+people/\S+", converted), converted
    assert re.search(r"organization\s+organizations/\S+", converted), converted

    # Worked through the pipeline and won.
    board = crm(suite, "sales", "pipeline", pipeline)
    assert "Engines rollout EUR 12,000.50" in board
    moved = crm(suite, "sales", "deal", "move", deal, "proposal")
    assert moved == f"Engines rollout ({deal}): OPEN in Proposal (60%).\n"
    crm(suite, "sales", "deal", "move", deal, "Negotiation")
    mine = crm(suite, "sales", "deal", "list", "--mine", "--pipeline", pipeline)
    row = next(line for line in mine.splitlines() if line.startswith(deal))
    assert "Negotiation" in row and "80%" in row and "OPEN" in row and "EUR 12,000.50" in row
    won = crm(suite, "sales", "deal", "win", deal, "--reason", f"best value {suffix}")
    assert won.startswith(f"Engines rollout ({deal}): WON in Negotiation"), won
    deal_shown = crm(suite, "sales", "deal", "show", deal)
    history = deal_shown[deal_shown.index("Stage history:") :].splitlines()[2:]
    assert [line.split()[0] for line in history] == ["Qualified", "Proposal", "Negotiation"]
    assert re.search(rf"State:\s+WON in Negotiation \(\d+%\): Best value {suffix}\n", deal_shown)

    # The pipeline and the forecast show the win.
    board = crm(suite, "sales", "pipeline", pipeline)
    assert "Engines rollout" not in board
    assert "Won this month: 1 deal, EUR 12,000.50. Lost this month: 0 deals." in board
    forecast = crm(suite, "sales", "forecast", "--filter", f'pipeline = "pipelines/{pipeline}"')
    header, *lines = forecast.splitlines()
    assert header.split()[-1] == "WON"
    assert any(line.split()[1:3] == ["EUR", "1"] and line.endswith("12,000.50") for line in lines)

    # Projects made the won deal's project from the template; its tasks are on the board.
    def project_made() -> str:
        found = crm(suite, "projects", "list", "--opportunity", deal)
        assert "Engines rollout" in found, found
        return found.splitlines()[1].split()[0]

    project = eventually(project_made)
    board = crm(suite, "projects", "board", project)
    assert board.startswith(f"Board of projects/{project}")
    for title in ("Welcome call", "Set up accounts", "Train the team"):
        assert re.search(rf"{title}\s+users/ada\s", board), board
    my_tasks = crm(suite, "projects", "tasks", "--mine")
    welcome = next(line for line in my_tasks.splitlines() if "Welcome call" in line).split()[-1]
    assert "Train the team" in my_tasks
    assert "Done: 'Welcome call' (was TODO)." in crm(suite, "projects", "task", "done", welcome)
    board = crm(suite, "projects", "board", project)
    assert re.search(r"== Done \(1 card\(s\).*\n.*\n\s+Welcome call\s", board), board
