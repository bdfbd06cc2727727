"""Who may call each sales RPC: the permission it needs (crm_common.auth.roles
says which roles grant which). Every RPC has an entry; a test checks it.

Writing opportunities and leads also needs ownership (owner == caller)
unless the caller holds sales.manage: the handlers check that per record."""

from crm_common.auth.roles import Permission, PermissionTable

READ = Permission.SALES_READ
WRITE = Permission.SALES_WRITE
MANAGE = Permission.SALES_MANAGE

PERMISSIONS: PermissionTable = {
    "crm.sales.v1.SalesService": {
        "CreatePipeline": MANAGE,
        "GetPipeline": READ,
        "ListPipelines": READ,
        "UpdatePipeline": MANAGE,
        "DeletePipeline": MANAGE,
        "CreateOpportunity": WRITE,
        "GetOpportunity": READ,
        "ListOpportunities": READ,
        "UpdateOpportunity": WRITE,
        "DeleteOpportunity": WRITE,
        "MoveOpportunity": WRITE,
        "WinOpportunity": WRITE,
        "LoseOpportunity": WRITE,
        "ReopenOpportunity": WRITE,
        "CreateCloseReason": MANAGE,
        "GetCloseReason": READ,
        "ListCloseReasons": READ,
        "UpdateCloseReason": MANAGE,
    },
    "crm.sales.v1.LeadService": {
        "CreateLead": WRITE,
        "GetLead": READ,
        "ListLeads": READ,
        "UpdateLead": WRITE,
        "DeleteLead": WRITE,
        "RecordLeadActivity": WRITE,
        "ConvertLead": WRITE,
        "CreateScoringRule": MANAGE,
        "GetScoringRule": READ,
        "ListScoringRules": READ,
        "UpdateScoringRule": MANAGE,
        "DeleteScoringRule": MANAGE,
    },
    "crm.sales.v1.ForecastService": {
        "GetExchangeRate": READ,
        "ListExchangeRates": READ,
        "UpdateExchangeRate": MANAGE,
        "DeleteExchangeRate": MANAGE,
        "GetForecast": READ,
        "GetFunnelReport": READ,
        "GetStageDurationReport": READ,
        "GetWinRateReport": READ,
        "GetWinLossReasonsReport": READ,
    },
    "crm.sales.v1.WorkflowService": {
        "CreateWorkflowRule": MANAGE,
        "GetWorkflowRule": READ,
        "ListWorkflowRules": READ,
        "UpdateWorkflowRule": MANAGE,
        "DeleteWorkflowRule": MANAGE,
        "ListWorkflowRuns": READ,
    },
    # Who changed what (crm_common.audit): for those who manage the service.
    "crm.audit.v1.AuditService": {"ListAuditEntries": MANAGE},
}
