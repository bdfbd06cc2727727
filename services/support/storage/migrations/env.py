from crm_common.storage.migrations import run_migrations
from crm_support.storage import tickets  # noqa: F401  (registers its tables)
from crm_support.storage.tables import metadata

run_migrations(metadata)
