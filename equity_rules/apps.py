from django.apps import AppConfig


class EquityRulesConfig(AppConfig):
    name = "equity_rules"
    label = "equity_rules"
    verbose_name = "Equity-type rules"
