"""`crm dev ...`: helpers for running the suite on this machine, never in production."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from crm_cli.auth import add_token_command
from crm_cli.certs import add_certs_command

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(subparsers: Subparsers) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="local development helpers (certificates, tokens)",
        description="Helpers for running the suite on this machine; not for production.",
    )
    commands = dev.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_certs_command(commands)
    add_token_command(commands)
