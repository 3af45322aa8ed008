"""The seed's four service levels against their targets over the last 24 hours, and an alert per breach."""

from datetime import datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from tickstock_ops import alerts, conf, slo
from tickstock_ops.models import SloSample

LABELS = {
    "ipo_detection_delay": "IPO detection",
    "quality_scan_duration": "Data-quality scan",
    "rule_update_delay": "Rule update applied",
    "notification_delay": "Notification delivery",
}


def status(now: datetime | None = None, hours: int = 24) -> list[dict]:
    """Per target: samples, p50 and p95 (seconds, None without samples), the target and whether it is breached."""
    now = now or timezone.now()
    rows = []
    for name, target in slo.TARGETS.items():
        values = np.fromiter(SloSample.objects.filter(name=name, at__gt=now - timedelta(hours=hours))
                             .values_list("seconds", flat=True), dtype=float)
        p50, p95 = (np.percentile(values, [50, 95]).tolist() if values.size else (None, None))
        breached = values.size >= conf.get("SLO_MIN_SAMPLES") and p95 > target
        rows.append({"name": name, "label": LABELS[name], "samples": int(values.size), "p50": p50, "p95": p95,
                     "target": target, "breached": bool(breached)})
    return rows


def check_targets(now: datetime | None = None) -> list[str]:
    """Fire `slo:<name>` for each target whose 24-hour p95 is over it, resolve the others; returns the breached."""
    breached = []
    for row in status(now):
        fingerprint = f"slo:{row['name']}"
        if row["breached"]:
            breached.append(row["name"])
            alerts.fire(fingerprint, source="slo", severity="warning",
                        title=f"{row['label']}: p95 {row['p95']:.1f} s over 24 h exceeds the {row['target']} s "
                              f"target ({row['samples']} samples)",
                        labels={"type": "slo_breach", "slo": row["name"], "target_seconds": row["target"]})
        else:
            alerts.resolve(fingerprint)
    with transaction.atomic():
        slo.prune(now)
    return breached
