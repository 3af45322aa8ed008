from django.apps import AppConfig


class IpoConfig(AppConfig):
    name = "monitors.ipo"
    label = "ipo"
    verbose_name = "IPO monitoring"
