from django.apps import AppConfig


class EquityRulesConfig(AppConfig):
    name = "equity_rules"
    label = "equity_rules"
    verbose_name = "Equity-type rules"

    def ready(self) -> None:
        from equity_rules import queue
        from tickstock_ops import health

        health.register_queue("equity_processing", queue.depth)
