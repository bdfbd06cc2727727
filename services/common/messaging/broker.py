"""The NATS connection and the JetStream streams the suite uses."""

import asyncio
import logging
import ssl
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from crm_common.config import SuiteSettings
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


def server_urls(url: str) -> list[str]:
    """The servers in `CRM_NATS_URL`: one URL, or a cluster's members separated by commas.

    Listing every member lets a process start, and reconnect, while any one
    of them is down; once connected, the client also learns the members the
    server announces.
    """
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError(f"no NATS server in {url!r}")
    return servers


class NatsSecurityError(ValueError):
    """The CRM_NATS_* security settings are incomplete or contradictory."""


def security_options(settings: SuiteSettings) -> dict[str, Any]:
    """nats-py connect arguments for TLS and logging in, from the CRM_NATS_* settings:
    none of them set means a plaintext, anonymous connection."""
    options: dict[str, Any] = {}
    has_certificate = bool(settings.nats_tls_cert_file or settings.nats_tls_key_file)
    if settings.nats_tls_ca_file:
        if has_certificate and not (settings.nats_tls_cert_file and settings.nats_tls_key_file):
            raise NatsSecurityError("CRM_NATS_TLS_CERT_FILE and CRM_NATS_TLS_KEY_FILE go together")
        options["tls"] = _tls_context(settings)
    elif has_certificate:
        raise NatsSecurityError("a NATS client certificate needs CRM_NATS_TLS_CA_FILE")
    token = settings.nats_token.get_secret_value()
    logins = {
        "CRM_NATS_USER": bool(settings.nats_user),
        "CRM_NATS_TOKEN": bool(token),
        "CRM_NATS_CREDS_FILE": bool(settings.nats_creds_file),
    }
    if sum(logins.values()) > 1:
        given = ", ".join(name for name, chosen in logins.items() if chosen)
        raise NatsSecurityError(f"set one way of logging in to NATS, not {given}")
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    elif token:
        options["token"] = token
    elif settings.nats_creds_file:
        options["user_credentials"] = settings.nats_creds_file
    return options


def _tls_context(settings: SuiteSettings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=settings.nats_tls_ca_file)
        if settings.nats_tls_cert_file:
            context.load_cert_chain(settings.nats_tls_cert_file, settings.nats_tls_key_file)
    except (OSError, ssl.SSLError) as error:
        raise NatsSecurityError(f"cannot load the NATS TLS files: {error}") from None
    return context


async def connect(url: str, name: str, security: Mapping[str, Any] | None = None) -> Client:
    """Connects to any server in `url`, retrying until one answers; cancel it to give up.

    With unlimited reconnects nats-py keeps retrying even the first
    connection, so a service starts while the broker is down (its writes
    wait in the outbox) and connects when the broker comes back.
    """
    while True:
        try:
            return await nats.connect(
                server_urls(url),
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                disconnected_cb=_on_disconnected,
                reconnected_cb=_on_reconnected,
                error_cb=_on_error,
                **(security or {}),
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
