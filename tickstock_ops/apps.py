from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tickstock_ops"
    label = "tickstock_ops"
    verbose_name = "Operations core"
