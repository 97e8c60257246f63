"""The kernel every domain uses: the transaction and the actor, typed errors and input
validation, settings and exchange rates, the audit log, the order timeline (``events``),
domain events, the outbox (``outbox``: writing messages, the handler registry, what a
person does; ``outbox_sender``: the send pass; ``idempotency``: creating remote objects once),
secrets at rest, users, and the SQL helpers of batch writes."""

__all__ = [
    "actor", "audit", "batch_writes", "bulk", "domain_events", "errors", "events", "fx",
    "idempotency", "jsonable", "order_rows", "outbox", "outbox_sender", "secrets", "settings",
    "sql_lists", "transaction", "users", "validation",
]
