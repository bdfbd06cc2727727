"""The `crm` console script, run as a real process against real servers."""

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from crm.events.v1.event_pb2 import Event
from crm_cli.servers import NatsServer, free_port
from crm_common.messaging.broker import (
    dead_letter_stream_config,
    ensure_stream,
    event_stream_config,
)
from crm_common.messaging.envelope import DEAD_LETTER_STREAM, stream_for

CRM = Path(sys.executable).with_name("crm")
ORIGINAL_SUBJECT = "crm.events.contacts.contact.created"


def crm(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRM), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = crm("--help")
    assert result.returncode == 0, result.stderr
    for command in ("up", "serve", "migrate", "events"):
        assert f"    {command} " in result.stdout


def test_dead_letters_help_lists_its_commands() -> None:
    result = crm("events", "dead-letters", "--help")
    assert result.returncode == 0, result.stderr
    assert "list" in result.stdout
    assert "replay" in result.stdout


def test_a_command_is_required() -> None:
    result = crm()
    assert result.returncode == 2
    assert "required" in result.stderr


def test_serve_refuses_an_unknown_service() -> None:
    result = crm("serve", "billing")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_migrate_creates_the_tables_and_can_run_again(tmp_path: Path) -> None:
    database = tmp_path / "c.db"
    url = f"sqlite+aiosqlite:///{database}"

    first = crm("migrate", "contacts", CRM_CONTACTS_DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert "contacts: migrated" in first.stdout
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"people", "outbox", "inbox", "alembic_version"} <= tables

    second = crm("migrate", "contacts", CRM_CONTACTS_DATABASE_URL=url)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout


def test_migrate_reports_an_unreachable_database_without_its_password() -> None:
    url = f"postgresql+asyncpg://crm:secret@127.0.0.1:{free_port()}/sales"
    result = crm("migrate", "sales", CRM_SALES_DATABASE_URL=url)
    assert result.returncode == 1
    assert "cannot migrate" in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ dead letters


@asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(url, connect_timeout=5)
    try:
        yield client.jetstream()
    finally:
        await client.close()


async def park_dead_letter(
    url: str, event: Event, reason: str, original_subject: str = ORIGINAL_SUBJECT
) -> int:
    """Sets up the streams and parks `event` as a dead letter; returns its sequence."""
    async with jetstream(url) as js:
        await ensure_stream(js, dead_letter_stream_config(1))
        await ensure_stream(js, event_stream_config("contacts", 1))
        ack = await js.publish(
            "crm.deadletter.test",
            event.SerializeToString(),
            headers={
                "Crm-Consumer": "support",
                "Crm-Original-Subject": original_subject,
                "Crm-Dead-Letter-Reason": reason,
            },
        )
        return ack.seq


async def last_event(url: str) -> tuple[bytes, dict[str, str]]:
    async with jetstream(url) as js:
        message = await js.get_last_msg(stream_for("contacts"), ORIGINAL_SUBJECT)
        return message.data or b"", dict(message.headers or {})


async def still_dead(url: str, sequence: int) -> bool:
    async with jetstream(url) as js:
        try:
            await js.get_msg(DEAD_LETTER_STREAM, sequence)
        except NotFoundError:
            return False
        return True


def new_event() -> Event:
    return Event(
        id=str(uuid.uuid4()),
        type="contact.created",
        source="contacts",
        aggregate_type="person",
        aggregate_id=str(uuid.uuid4()),
        aggregate_version=1,
    )


def test_dead_letters_list_and_replay(nats_server: NatsServer) -> None:
    url = nats_server.url
    event = new_event()
    reason = "handler failed 5 times: ValueError(" + "x" * 200 + ")"
    sequence = asyncio.run(park_dead_letter(url, event, reason))

    # A generous limit: other tests may park dead letters on this server too.
    listed = crm("events", "dead-letters", "list", "--limit", "1000", CRM_NATS_URL=url)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == [
        *["SEQ", "CONSUMER", "EVENT", "TYPE", "EVENT", "ID"],
        *["ORIGINAL", "SUBJECT", "REASON"],
    ]
    row = next(row for row in rows if event.id in row)
    assert row.split()[:5] == [
        str(sequence),
        "support",
        "contact.created",
        event.id,
        ORIGINAL_SUBJECT,
    ]
    assert "handler failed 5 times" in row
    assert "x" * 100 not in row  # the reason is cut short

    replayed = crm("events", "dead-letters", "replay", str(sequence), CRM_NATS_URL=url)
    assert replayed.returncode == 0, replayed.stderr
    assert f"Replayed dead letter {sequence}" in replayed.stdout
    data, headers = asyncio.run(last_event(url))
    assert Event.FromString(data) == event
    assert headers["Nats-Msg-Id"] == f"replay:{DEAD_LETTER_STREAM}:{sequence}"
    assert not asyncio.run(still_dead(url, sequence))

    after = crm("events", "dead-letters", "list", "--limit", "1000", CRM_NATS_URL=url)
    assert after.returncode == 0, after.stderr
    assert event.id not in after.stdout


def test_dead_letters_list_on_an_empty_stream(tmp_path: Path) -> None:
    async def create_stream(url: str) -> None:
        async with jetstream(url) as js:
            await ensure_stream(js, dead_letter_stream_config(1))

    with NatsServer(tmp_path / "store") as server:
        asyncio.run(create_stream(server.url))
        result = crm("events", "dead-letters", "list", CRM_NATS_URL=server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No dead letters."


def test_dead_letters_list_without_the_stream_names_the_server(tmp_path: Path) -> None:
    with NatsServer(tmp_path / "store") as server:
        result = crm("events", "dead-letters", "list", CRM_NATS_URL=server.url)
    assert result.returncode == 1
    assert f"NATS at {server.url} has no {DEAD_LETTER_STREAM} stream" in result.stderr


def test_replay_of_an_unknown_sequence_fails_clearly(nats_server: NatsServer) -> None:
    asyncio.run(park_dead_letter(nats_server.url, new_event(), "test"))
    result = crm("events", "dead-letters", "replay", "999999999", CRM_NATS_URL=nats_server.url)
    assert result.returncode == 1
    assert "no dead letter with sequence 999999999" in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_keeps_a_dead_letter_no_stream_would_store(nats_server: NatsServer) -> None:
    url = nats_server.url
    sequence = asyncio.run(park_dead_letter(url, new_event(), "test", "crm.events.nowhere.x"))
    result = crm("events", "dead-letters", "replay", str(sequence), CRM_NATS_URL=url)
    assert result.returncode == 1
    assert "no stream stores its original subject" in result.stderr
    assert asyncio.run(still_dead(url, sequence))


def test_dead_letters_list_fails_clearly_without_nats() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = crm("events", "dead-letters", "list", CRM_NATS_URL=url, timeout=30)
    assert result.returncode == 1
    assert f"cannot reach NATS at {url}" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 15
