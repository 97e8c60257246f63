"""The kernel every domain uses: the transaction and the actor, typed errors and input
validation, settings and exchange rates, the audit log, the order timeline (``events``),
domain events, the outbox (``outbox``: writing messages, the handler registry, what a
person does; ``outbox_sender``: the send pass; ``idempotency``: creating remote objects once),
secrets at rest and where credentials may go (``credential_targets``), users, sign-in limits
and sessions (``logins``), the security audit, how much of an error a reader sees
(``error_text``), and the SQL helpers of batch writes."""

__all__ = [
    "actor", "audit", "batch_writes", "bulk", "credential_targets", "domain_events",
    "error_text", "errors", "events", "fx", "idempotency", "jsonable", "logins", "order_rows",
    "outbox", "outbox_sender", "paging", "secrets", "security_audit", "settings", "sql_lists",
    "transaction", "users", "validation",
]
