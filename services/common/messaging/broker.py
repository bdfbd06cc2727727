"""The NATS connection and the JetStream streams the suite uses."""

import asyncio
import logging
from datetime import timedelta

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from crm_common.messaging.envelope import (
    DEAD_LETTER_ROOT,
    DEAD_LETTER_STREAM,
    SUBJECT_ROOT,
    stream_for,
)

log = logging.getLogger(__name__)

# Re-publishing an event within this window is dropped by the broker (by
# Nats-Msg-Id); beyond it, consumers' inboxes absorb the copy.
DUPLICATE_WINDOW = timedelta(minutes=10)
_STREAM_NAME_IN_USE = 10058


def event_stream_config(source: str, replicas: int) -> StreamConfig:
    # No age or size limit: the streams are the replayable history.
    return StreamConfig(
        name=stream_for(source),
        subjects=[f"{SUBJECT_ROOT}.{source}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
    )


def dead_letter_stream_config(replicas: int) -> StreamConfig:
    return StreamConfig(
        name=DEAD_LETTER_STREAM,
        subjects=[f"{DEAD_LETTER_ROOT}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Creates the stream, or brings an existing one to this configuration."""
    try:
        await js.add_stream(config)
    except BadRequestError as error:
        if error.err_code != _STREAM_NAME_IN_USE:
            raise
        await js.update_stream(config)


async def connect(url: str, name: str) -> Client:
    """Connects, retrying until the broker answers; cancel it to give up.

    With unlimited reconnects nats-py keeps retrying even the first
    connection, so a service starts while the broker is down (its writes
    wait in the outbox) and connects when the broker comes back.
    """
    while True:
        try:
            return await nats.connect(
                url,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                disconnected_cb=_on_disconnected,
                reconnected_cb=_on_reconnected,
                error_cb=_on_error,
            )
        except (OSError, nats.errors.NoServersError, TimeoutError) as error:
            log.warning("nats unreachable, retrying", extra={"url": url, "error": str(error)})
            await asyncio.sleep(1.0)


async def _on_disconnected() -> None:
    log.warning("nats disconnected")


async def _on_reconnected() -> None:
    log.info("nats reconnected")


async def _on_error(error: Exception) -> None:
    log.warning("nats error", extra={"error": str(error)})
