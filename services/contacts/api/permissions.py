"""Who may call each contacts RPC: the permission it needs (crm_common.auth.roles
says which roles grant which). Every RPC has an entry; a test checks it."""

from crm_common.auth.roles import Permission, PermissionTable

READ = Permission.CONTACTS_READ
WRITE = Permission.CONTACTS_WRITE
MANAGE = Permission.CONTACTS_MANAGE

PERMISSIONS: PermissionTable = {
    "crm.contacts.v1.ContactsService": {
        "CreatePerson": WRITE,
        "GetPerson": READ,
        "ListPeople": READ,
        "UpdatePerson": WRITE,
        "DeletePerson": WRITE,
        "CreateOrganization": WRITE,
        "GetOrganization": READ,
        "ListOrganizations": READ,
        "UpdateOrganization": WRITE,
        "DeleteOrganization": WRITE,
        "CreateCustomFieldDefinition": MANAGE,
        "GetCustomFieldDefinition": READ,
        "ListCustomFieldDefinitions": READ,
        "UpdateCustomFieldDefinition": MANAGE,
        "DeleteCustomFieldDefinition": MANAGE,
        "CreateRelationshipType": MANAGE,
        "ListRelationshipTypes": READ,
        "CreateRelationship": WRITE,
        "GetRelationship": READ,
        "ListRelationships": READ,
        "UpdateRelationship": WRITE,
        "DeleteRelationship": WRITE,
        "CreateNote": WRITE,
        "ListNotes": READ,
        "UpdateNote": WRITE,
        "DeleteNote": WRITE,
        "ListTimelineEntries": READ,
        "SearchContacts": READ,
        "FindDuplicatePeople": READ,
        "MergePeople": MANAGE,
        "ImportContacts": MANAGE,
        "ExportContacts": MANAGE,
        "ErasePerson": MANAGE,
        "ExportPersonData": MANAGE,
    },
    # Who changed what (crm_common.audit): for those who manage the service.
    "crm.audit.v1.AuditService": {"ListAuditEntries": MANAGE},
}
