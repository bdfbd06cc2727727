"""`crm`: the suite's command line.

main() only builds the parser and dispatches. Every command is a small
function that takes the parsed arguments and returns the exit code, set as
its parser's `func`. The parsers come from `register(subparsers)` functions:
this module's own for `up`, `serve` and `migrate`, and one per module for
command groups such as `crm events ...`; a new group adds its module's
`register` to REGISTRARS.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alembic.util.exc import CommandError as AlembicError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from crm_cli import contacts, dev, events, projects, sales, support
from crm_cli.up import run_suite
from crm_common.config import DEFAULT_PORTS, load_service_settings
from crm_common.storage.migrations import upgrade_to_head

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

SERVICES = tuple(DEFAULT_PORTS)


def up(args: argparse.Namespace) -> int:
    return run_suite(Path(args.var_dir), tls=args.tls)


def serve(args: argparse.Namespace) -> int:
    # The same entry point as `python -m crm_<service>.main`; it returns on SIGTERM.
    importlib.import_module(f"crm_{args.service}.main").main()
    return 0


def migrate(args: argparse.Namespace) -> int:
    service = args.service
    settings = load_service_settings(service)
    migrations = importlib.import_module(f"crm_{service}.main").SPEC.migrations
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        result = asyncio.run(upgrade_to_head(settings.database_url, migrations))
    except (SQLAlchemyError, AlembicError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"crm migrate: {service}: cannot migrate {shown}: {reason}", file=sys.stderr)
        return 1
    after = ", ".join(result.after) or "(no revision)"
    if result.changed:
        before = ", ".join(result.before) or "an empty schema"
        print(f"{service}: migrated {shown} from {before} to {after} (head)")
    else:
        print(f"{service}: {shown} already at {after} (head); nothing to do")
    return 0


def register(subparsers: Subparsers) -> None:
    """The commands that are not part of a group: up, serve, migrate."""
    run = subparsers.add_parser(
        "up",
        help="run NATS and every service on this machine until Ctrl-C",
        description="Runs NATS and every service on this machine until Ctrl-C or SIGTERM.",
    )
    run.add_argument(
        "--var-dir",
        default="var",
        metavar="DIR",
        help="where databases, the NATS store and logs go (default: var)",
    )
    run.add_argument(
        "--tls",
        action="store_true",
        help="mutual TLS for gRPC and NATS, with certificates from `crm dev certs` "
        "(made under VAR_DIR/certs when missing)",
    )
    run.set_defaults(func=up)

    one = subparsers.add_parser(
        "serve",
        help="run one service in the foreground (for containers)",
        description="Runs one service in the foreground, configured by CRM_* variables.",
    )
    one.add_argument("service", choices=SERVICES, metavar="SERVICE", help=_service_help())
    one.set_defaults(func=serve)

    schema = subparsers.add_parser(
        "migrate",
        help="apply a service's database migrations up to head, then exit",
        description=(
            "Applies a service's database migrations up to head against "
            "CRM_<SERVICE>_DATABASE_URL, then exits."
        ),
    )
    schema.add_argument("service", choices=SERVICES, metavar="SERVICE", help=_service_help())
    schema.set_defaults(func=migrate)


# Each adds its commands to `crm`'s subparsers.
REGISTRARS: tuple[Callable[[Subparsers], None], ...] = (
    register,
    events.register,
    contacts.register,
    support.register,
    sales.register,
    projects.register,
    dev.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm", description="The CRM suite's command line.")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add_commands in REGISTRARS:
        add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))


def _service_help() -> str:
    return f"one of {', '.join(SERVICES)}"


if __name__ == "__main__":
    main()
