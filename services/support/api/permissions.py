"""Who may call each support RPC: the permission it needs (crm_common.auth.roles
says which roles grant which). Every RPC has an entry; a test checks it.

On top, tickets are row-level: without support.all_tickets an agent sees
and works only the tickets of their groups (or assigned to them); the
handlers check that per ticket."""

from crm_common.auth.roles import Permission, PermissionTable

READ = Permission.SUPPORT_READ
WRITE = Permission.SUPPORT_WRITE
ALL_TICKETS = Permission.SUPPORT_ALL_TICKETS
MANAGE = Permission.SUPPORT_MANAGE

PERMISSIONS: PermissionTable = {
    "crm.support.v1.SupportService": {
        "GetCustomer": READ,
        "ListCustomers": READ,
        "CreateTicket": WRITE,
        "GetTicket": READ,
        "ListTickets": READ,
        "UpdateTicket": WRITE,
        "MergeTicket": WRITE,
        "RateTicket": WRITE,
        "CreateComment": WRITE,
        "ListComments": READ,
        "ReceiveEmail": Permission.SUPPORT_INTAKE,
    },
    "crm.support.v1.AgentService": {
        "CreateAgent": MANAGE,
        "GetAgent": READ,
        "ListAgents": READ,
        "UpdateAgent": MANAGE,
        "DeleteAgent": MANAGE,
        "CreateGroup": MANAGE,
        "GetGroup": READ,
        "ListGroups": READ,
        "UpdateGroup": MANAGE,
        "DeleteGroup": MANAGE,
        "AssignTicket": WRITE,
    },
    "crm.support.v1.ViewService": {
        "CreateView": MANAGE,
        "GetView": READ,
        "ListViews": READ,
        "UpdateView": MANAGE,
        "DeleteView": MANAGE,
        "ListViewTickets": READ,
        "BatchCountViewTickets": READ,
        "ListQueueTickets": READ,
    },
    "crm.support.v1.ReportService": {
        # Totals over every ticket: not for an agent confined to their groups.
        "GetTicketReport": ALL_TICKETS,
    },
    "crm.support.v1.AutomationService": {
        "CreateMacro": MANAGE,
        "GetMacro": READ,
        "ListMacros": READ,
        "UpdateMacro": MANAGE,
        "DeleteMacro": MANAGE,
        "ApplyMacro": WRITE,
        "CreateTrigger": MANAGE,
        "GetTrigger": READ,
        "ListTriggers": READ,
        "UpdateTrigger": MANAGE,
        "DeleteTrigger": MANAGE,
        "CreateAutomation": MANAGE,
        "GetAutomation": READ,
        "ListAutomations": READ,
        "UpdateAutomation": MANAGE,
        "DeleteAutomation": MANAGE,
    },
    "crm.support.v1.SlaService": {
        "CreateCalendar": MANAGE,
        "GetCalendar": READ,
        "ListCalendars": READ,
        "UpdateCalendar": MANAGE,
        "DeleteCalendar": MANAGE,
        "CreateSlaPolicy": MANAGE,
        "GetSlaPolicy": READ,
        "ListSlaPolicies": READ,
        "UpdateSlaPolicy": MANAGE,
        "DeleteSlaPolicy": MANAGE,
    },
    # Who changed what (crm_common.audit): for those who manage the service.
    "crm.audit.v1.AuditService": {"ListAuditEntries": MANAGE},
}
