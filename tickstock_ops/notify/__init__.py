"""Notifications (docs/notifications.md): alerts routed to receivers through Apprise, like Alertmanager."""
