from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "tickstock_ops"
    label = "tickstock_ops"
    verbose_name = "Operations core"

    def ready(self) -> None:
        from tickstock_ops import readonly_role

        post_migrate.connect(readonly_role.grant_recorded_roles, sender=self,
                             dispatch_uid="tickstock_ops.readonly_role")
