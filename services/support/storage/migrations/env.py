from crm_common.storage.migrations import run_migrations
from crm_support.storage import (
    automation,  # noqa: F401
    email_messages,  # noqa: F401
    requester_emails,  # noqa: F401
    sla,  # noqa: F401
    tickets,  # noqa: F401  (registers its tables)
    views,  # noqa: F401
)
from crm_support.storage.tables import metadata

run_migrations(metadata)
