"""`crm events ...`: operator tools over the suite's event streams.

`crm events dead-letters list` shows the events consumers gave up on, and
`crm events dead-letters replay SEQ` puts one back on its original subject
(consumers that had applied it already skip it through their inbox).
`crm events rebuild SERVICE READ_MODEL` remakes a service's read model from the
full history of the stream that feeds it (crm_common.messaging.replay), while
the service is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, NotFoundError

from crm_cli.tables import format_table, shorten
from crm_common.config import SuiteSettings, load_service_settings
from crm_common.messaging import replay as read_model_replay
from crm_common.messaging.broker import security_options, server_urls
from crm_common.messaging.deadletters import DeadLetter, list_dead_letters, replay_dead_letter
from crm_common.messaging.envelope import DEAD_LETTER_STREAM
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory

CONNECT_TIMEOUT = 3.0
# nats-py keeps retrying the first connect even with allow_reconnect=False
# and max_reconnect_attempts=0 (nats-io/nats.py#645), so a deadline of our
# own bounds it.
CONNECT_DEADLINE = CONNECT_TIMEOUT + 2.0
REASON_WIDTH = 60


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = subparsers.add_parser(
        "events",
        help="operator tools over the event streams",
        description="Operator tools over the event streams, on NATS at $CRM_NATS_URL.",
    )
    groups = events.add_subparsers(title="commands", metavar="COMMAND", required=True)
    dead_letters = groups.add_parser(
        "dead-letters",
        help="events consumers gave up on",
        description=f"Events consumers gave up on, kept in the {DEAD_LETTER_STREAM} stream.",
    )
    commands = dead_letters.add_subparsers(title="commands", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="show dead letters, oldest first")
    listing.add_argument(
        "--limit", type=positive_int, default=100, help="show at most N (default 100)"
    )
    listing.set_defaults(func=list_command)

    replay = commands.add_parser(
        "replay",
        help="republish one to its original subject and remove it",
        description=(
            "Republishes a dead letter to its original subject under a fresh message id, "
            "then removes it from the dead-letter stream."
        ),
    )
    replay.add_argument("sequence", type=positive_int, help="its SEQ from `list`")
    replay.set_defaults(func=replay_command)

    rebuild = groups.add_parser(
        "rebuild",
        help="remake a service's read model from its source stream's history",
        description=(
            "Empties a read model a service keeps from another service's events and applies "
            "that stream's whole history to it, in batched transactions, recording the events "
            "in the service's inbox so that it resumes with the newer ones. Stop the service "
            "first: the command refuses while it consumes. Uses the service's "
            "CRM_<SERVICE>_DATABASE_URL and CRM_NATS_URL."
        ),
    )
    rebuild.add_argument("service", help="the service keeping the read model, e.g. support")
    rebuild.add_argument("read_model", help="which of its read models, e.g. customers")
    rebuild.add_argument(
        "--batch",
        type=positive_int,
        default=read_model_replay.BATCH_SIZE,
        help=f"events per transaction (default {read_model_replay.BATCH_SIZE})",
    )
    rebuild.set_defaults(func=rebuild_command)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def list_command(args: argparse.Namespace) -> int:
    return _run(_list(SuiteSettings().nats_url, args.limit))


def replay_command(args: argparse.Namespace) -> int:
    return _run(_replay(SuiteSettings().nats_url, args.sequence))


def rebuild_command(args: argparse.Namespace) -> int:
    return _run(_rebuild(args.service, args.read_model, args.batch))


def dead_letter_table(letters: Sequence[DeadLetter]) -> str:
    rows = [("SEQ", "CONSUMER", "EVENT TYPE", "EVENT ID", "ORIGINAL SUBJECT", "REASON")]
    rows += [
        (
            str(letter.sequence),
            letter.consumer,
            letter.event_type,
            letter.event_id,
            letter.original_subject,
            shorten(letter.reason, REASON_WIDTH),
        )
        for letter in letters
    ]
    return format_table(rows)


def _run(command: Coroutine[Any, Any, None]) -> int:
    try:
        asyncio.run(command)
    except CommandError as error:
        print(f"crm events: {error}", file=sys.stderr)
        return 1
    return 0


async def _list(url: str, limit: int) -> None:
    async with jetstream(url) as js:
        try:
            total = (await js.stream_info(DEAD_LETTER_STREAM)).state.messages
            # Checked first: on a stream that never held a message, first_seq
            # is 0, which list_dead_letters would ask the server for.
            letters = await list_dead_letters(js, limit) if total else []
        except NotFoundError:
            raise CommandError(_no_stream(url)) from None
    if not letters:
        print("No dead letters.")
        return
    print(dead_letter_table(letters))
    if total > len(letters):
        print(f"\n(the oldest {len(letters)} of {total}; --limit N shows more)")


async def _replay(url: str, sequence: int) -> None:
    async with jetstream(url) as js:
        try:
            letter = await replay_dead_letter(js, sequence)
        except NotFoundError:
            raise CommandError(
                f"no dead letter with sequence {sequence} in {DEAD_LETTER_STREAM} "
                f"(see `crm events dead-letters list`)"
            ) from None
        except (NoRespondersError, NoStreamResponseError):
            raise CommandError(
                f"dead letter {sequence} was not replayed: no stream stores its original "
                "subject; it stays in the dead-letter stream"
            ) from None
    print(
        f"Replayed dead letter {sequence} ({letter.event_type} {letter.event_id}) "
        f"to {letter.original_subject}; removed it from {DEAD_LETTER_STREAM}."
    )


async def _rebuild(service: str, name: str, batch: int) -> None:
    read_model = _read_model(service, name)
    settings = load_service_settings(service)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        async with jetstream(SuiteSettings().nats_url) as js:
            report = await read_model_replay.rebuild(
                js, service, read_model, lambda: UnitOfWork(sessions, service), batch
            )
    except read_model_replay.ConsumerRunning as error:
        raise CommandError(str(error)) from None
    finally:
        await engine.dispose()
    print(
        f"{service}: rebuilt {name} from {report.stream} up to sequence {report.last_sequence}: "
        f"{report.messages} messages in {report.seconds:.1f} s ({report.rate:.0f}/s), "
        f"{report.applied} applied, {report.ignored} ignored, {report.duplicates} duplicates, "
        f"{len(report.failed)} failed"
    )
    for event_id, reason in report.failed.items():
        print(f"  left out event {event_id}: {reason}")


def _read_model(service: str, name: str) -> read_model_replay.ReadModel:
    try:
        spec = importlib.import_module(f"crm_{service}.main").SPEC
    except ModuleNotFoundError:
        raise CommandError(f"no service {service!r}") from None
    models = {model.name: model for model in spec.read_models}
    if name not in models:
        known = ", ".join(models) or "none"
        raise CommandError(f"{service} keeps no read model {name!r} (it keeps: {known})")
    return models[name]


@asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[JetStreamContext]:
    """JetStream on a connection that fails fast instead of retrying for a service."""
    errors: list[Exception] = []

    async def remember(error: Exception) -> None:
        errors.append(error)

    try:
        client: Client = await asyncio.wait_for(
            nats.connect(
                server_urls(url),
                name="crm-cli",
                connect_timeout=CONNECT_TIMEOUT,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.2,
                error_cb=remember,
                **security_options(SuiteSettings()),
            ),
            CONNECT_DEADLINE,
        )
    except (OSError, NatsError, TimeoutError) as error:
        cause = errors[-1] if errors else error
        detail = str(cause) or type(cause).__name__
        raise CommandError(
            f"cannot reach NATS at {url} ({detail}); is it running? Set CRM_NATS_URL to "
            "point elsewhere"
        ) from None
    try:
        yield client.jetstream()
    except NatsError as error:
        raise CommandError(f"NATS at {url}: {error}") from None
    finally:
        await client.close()


def _no_stream(url: str) -> str:
    return (
        f"NATS at {url} has no {DEAD_LETTER_STREAM} stream; services create it when they "
        "start, so this may be the wrong server (CRM_NATS_URL)"
    )
