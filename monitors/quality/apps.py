from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "monitors.quality"
    label = "quality"
    verbose_name = "Data quality"

    def ready(self) -> None:
        from monitors.quality.live import lag
        from tickstock_ops import alerts, health

        # A stale source: its symbols' staleness, coverage gaps and cross-source mismatches are the same cause.
        alerts.register_inhibit_rule(alerts.InhibitRule(
            source="quality", source_type="data_stale",
            target_types=frozenset({"data_stale", "coverage_gap", "source_mismatch"}),
            scoped_by="symbol", equal=("source", "interval"),
        ))
        health.register_consumer_lag("bars", lag.probe)
