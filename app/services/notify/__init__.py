"""Customers and staff told: internal alerts (``alerts``: raised and resolved by domain
events and jobs, deduplicated while open, acknowledged by staff) and where they are
delivered (``alert_channels``: a Slack-compatible incoming webhook, through the outbox
with a quiet period); outbound webhooks (``webhooks``: admins subscribe URLs to the public
domain events; each delivery signed, sent through the outbox in event order per subscription,
logged, paused when it dies, disabled by 410 Gone). Customer mails (``customer_mail``: domain events → ``notify.customer`` outbox messages,
rendered at send by ``mail_render`` from ``mail_templates``, sent over SMTP or kept in the mail log)."""

__all__ = ["alert_channels", "alert_mail", "alerts", "customer_mail", "mail_render", "mail_templates", "return_mail",
           "webhooks"]
