"""Customers and staff told: internal alerts (``alerts``: raised and resolved by domain
events and jobs, deduplicated while open, acknowledged by staff) and where they are
delivered (``alert_channels``: a Slack-compatible incoming webhook, through the outbox
with a quiet period). Customer notifications and outbound webhooks come with their issues."""

__all__ = ["alert_channels", "alerts"]
