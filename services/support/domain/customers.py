"""The helpdesk's copy of a customer, and when a copy may replace another."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Customer:
    id: str
    display_name: str
    email_addresses: tuple[str, ...]
    source_version: int
    update_time: datetime
    deleted: bool = False


def supersedes(incoming_version: int, stored: Customer | None) -> bool:
    """Events can arrive out of order (redelivery, several relays); only a
    newer version of the person may overwrite what the helpdesk holds."""
    return stored is None or incoming_version > stored.source_version
