"""The audit trail: every change an RPC makes is recorded with who made it,
when, from where and which fields it wrote, in the owning service's database
and in the same transaction as the change (`audit_entries`).

- `context`: the call being served (method, peer, request) and the actor.
- `interceptor`: puts the call into the context for each RPC.
- `recording`: what a unit of work's commit writes to `audit_entries`.
- `service`: `crm.audit.v1.AuditService`, served by every service.
"""
