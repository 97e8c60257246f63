"""The kernel every domain uses: the transaction and the actor, typed errors and input
validation, settings and exchange rates, the audit log, the order timeline (``events``),
domain events, secrets at rest, users, and the SQL helpers of batch writes."""

__all__ = [
    "actor", "audit", "batch_writes", "bulk", "domain_events", "errors", "events", "fx",
    "jsonable", "order_rows", "secrets", "settings", "sql_lists", "transaction", "users",
    "validation",
]
