"""The roles a token may carry, the permissions an RPC may require, and which
role grants which: the one place to read who may do what.

Each service maps every one of its RPCs to a permission in its own
`api/permissions.py`; the server refuses a call whose caller holds none of
the roles granting it, before any handler runs. Row-level rules (an agent's
tickets, a salesperson's opportunities) are the handlers' business on top.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum

ADMIN = "admin"
SALES = "sales"
SALES_MANAGER = "sales_manager"
SUPPORT_AGENT = "support_agent"
SUPPORT_SUPERVISOR = "support_supervisor"
READ_ONLY = "read_only"
# Another service of the suite calling on its own behalf.
SERVICE = "service"


class Permission(StrEnum):
    CONTACTS_READ = "contacts.read"
    CONTACTS_WRITE = "contacts.write"
    # Custom field and relationship type definitions, bulk import/export,
    # merges, and a person's erasure or data export (GDPR).
    CONTACTS_MANAGE = "contacts.manage"
    SALES_READ = "sales.read"
    SALES_WRITE = "sales.write"
    # Pipelines, close reasons, scoring rules, exchange rates, and editing
    # opportunities and leads owned by someone else.
    SALES_MANAGE = "sales.manage"
    PROJECTS_READ = "projects.read"
    PROJECTS_WRITE = "projects.write"
    # Project templates.
    PROJECTS_MANAGE = "projects.manage"
    # Tickets, comments and customers: an agent's only within their groups.
    SUPPORT_READ = "support.read"
    SUPPORT_WRITE = "support.write"
    # Every ticket, whatever its group.
    SUPPORT_ALL_TICKETS = "support.all_tickets"
    # Agents, groups, views shared by all, macros, triggers, automations, SLAs.
    SUPPORT_MANAGE = "support.manage"
    # Tickets from inbound email, as the mail gateway delivers them.
    SUPPORT_INTAKE = "support.intake"


_READ_ALL = {
    Permission.CONTACTS_READ,
    Permission.SALES_READ,
    Permission.PROJECTS_READ,
    Permission.SUPPORT_READ,
    Permission.SUPPORT_ALL_TICKETS,
}
_SALES = {
    Permission.CONTACTS_READ,
    Permission.CONTACTS_WRITE,
    Permission.SALES_READ,
    Permission.SALES_WRITE,
    Permission.PROJECTS_READ,
    Permission.PROJECTS_WRITE,
}
_SUPPORT_AGENT = {
    Permission.CONTACTS_READ,
    Permission.PROJECTS_READ,
    Permission.SUPPORT_READ,
    Permission.SUPPORT_WRITE,
}

ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    ADMIN: frozenset(Permission),
    SALES: frozenset(_SALES),
    SALES_MANAGER: frozenset({*_SALES, Permission.SALES_MANAGE, Permission.PROJECTS_MANAGE}),
    SUPPORT_AGENT: frozenset(_SUPPORT_AGENT),
    SUPPORT_SUPERVISOR: frozenset(
        {*_SUPPORT_AGENT, Permission.SUPPORT_ALL_TICKETS, Permission.SUPPORT_MANAGE}
    ),
    READ_ONLY: frozenset(_READ_ALL),
    # Lead conversion creates contacts; a mail gateway delivers support email.
    SERVICE: frozenset(
        {Permission.CONTACTS_READ, Permission.CONTACTS_WRITE, Permission.SUPPORT_INTAKE}
    ),
}

ROLES = tuple(ROLE_PERMISSIONS)

# Per service: gRPC service full name -> RPC name -> the permission it needs.
PermissionTable = Mapping[str, Mapping[str, Permission]]


def permissions_of(roles: Iterable[str]) -> frozenset[Permission]:
    """What the roles grant together; unknown roles grant nothing."""
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


def by_method_path(table: PermissionTable) -> dict[str, Permission]:
    """The table keyed as gRPC names methods: "/crm.x.v1.XService/GetThing"."""
    return {
        f"/{service}/{method}": permission
        for service, methods in table.items()
        for method, permission in methods.items()
    }
