"""Who may call each projects RPC: the permission it needs (crm_common.auth.roles
says which roles grant which). Every RPC has an entry; a test checks it."""

from crm_common.auth.roles import Permission, PermissionTable

READ = Permission.PROJECTS_READ
WRITE = Permission.PROJECTS_WRITE
MANAGE = Permission.PROJECTS_MANAGE

PERMISSIONS: PermissionTable = {
    "crm.projects.v1.ProjectsService": {
        "CreateProject": WRITE,
        "GetProject": READ,
        "ListProjects": READ,
        "UpdateProject": WRITE,
        "DeleteProject": WRITE,
        "CreateMilestone": WRITE,
        "GetMilestone": READ,
        "ListMilestones": READ,
        "UpdateMilestone": WRITE,
        "DeleteMilestone": WRITE,
    },
    "crm.projects.v1.TaskService": {
        "CreateTask": WRITE,
        "GetTask": READ,
        "ListTasks": READ,
        "UpdateTask": WRITE,
        "DeleteTask": WRITE,
        "CreateTaskComment": WRITE,
        "ListTaskComments": READ,
    },
    "crm.projects.v1.BoardService": {
        "GetBoard": READ,
        "CreateBoardColumn": WRITE,
        "UpdateBoardColumn": WRITE,
        "DeleteBoardColumn": WRITE,
        "ReorderBoardColumns": WRITE,
        "MoveCard": WRITE,
    },
    "crm.projects.v1.TemplateService": {
        "CreateProjectTemplate": MANAGE,
        "GetProjectTemplate": READ,
        "ListProjectTemplates": READ,
        "UpdateProjectTemplate": MANAGE,
        "DeleteProjectTemplate": MANAGE,
    },
    # Who changed what (crm_common.audit): for those who manage the service.
    "crm.audit.v1.AuditService": {"ListAuditEntries": MANAGE},
}
