from crm_common.storage.migrations import run_migrations
from crm_sales.storage.tables import metadata

run_migrations(metadata)
