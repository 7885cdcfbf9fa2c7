"""Notifications: alerts, expansion signals and weekly CSM digests pushed to Slack, email and JSON
webhooks, each delivered once (docs/NOTIFICATIONS.md)."""
