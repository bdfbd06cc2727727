"""Etags (AIP-154) derived from a resource's version counter."""

from crm_common.errors import Aborted


def etag_for(version: int) -> str:
    return f'W/"{version}"'


def check_etag(sent: str, version: int, resource: str) -> None:
    """An empty etag means "no precondition"; anything else must be current."""
    if sent and sent != etag_for(version):
        raise Aborted(f"{resource} changed since etag {sent} was read; get it again and retry")
