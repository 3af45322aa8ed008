from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "monitors.quality"
    label = "quality"
    verbose_name = "Data quality"
