from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "tickstock_ops.notify"
    label = "notify"
    verbose_name = "Notifications"
