"""Rolling SLA figures per equity type against its `performance_targets`.

Processing time is judged on the p95 of the window's attempts, success rate on the share of attempts that
ran to completion. A breach fires an alert every check it lasts and publishes `tickstock.equity.sla_breach`
when it starts; the alert resolves itself once the figure is back within target.
"""

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from equity_rules import conf
from equity_rules.models import EquityType, ProcessingResult, SlaStatus
from tickstock_ops import alerts
from tickstock_ops.events import publish


@dataclass(frozen=True)
class Verdict:
    """What an SLA status says, and why, in words an operator reads (the admin and the dashboard show the same)."""

    state: str  # "not_checked", "no_samples", "too_few", "breach", "ok"
    label: str
    why: str


def verdict(status: SlaStatus | None) -> Verdict:
    if status is None:
        return Verdict("not_checked", "not checked yet", "no SLA check has run for this equity type")
    window = f"{status.window_minutes} min"
    if not status.samples:
        return Verdict("no_samples", "no samples", f"no processing attempt finished in the last {window}")
    needed = conf.get("EQUITY_RULES_SLA_MIN_SAMPLES")
    if status.samples < needed:
        return Verdict("too_few", "too few samples to judge",
                       f"{status.samples} attempts in the last {window}; a verdict needs at least {needed}")
    figures_text = (f"p95 {status.p95_ms:.1f} ms vs target {status.target_processing_time_ms:g} ms, success "
                    f"{status.success_rate:.2f}% vs target {status.target_success_rate:g}%, over {status.samples} "
                    f"attempts in the last {window}")
    if status.breaches:
        missed = ", ".join(b["metric"] for b in status.breaches)
        return Verdict("breach", f"breach: {missed}", figures_text)
    return Verdict("ok", "within target", figures_text)


def check_all(now=None) -> list[SlaStatus]:
    return [check(equity_type, now) for equity_type in EquityType.objects.all()]


def figures(equity_type: str, window_minutes: int, now) -> tuple[int, float | None, float | None, float | None]:
    """(samples, p50 ms, p95 ms, success rate %) of the attempts that finished in the window."""
    rows = list(ProcessingResult.objects.filter(
        equity_type=equity_type, finished_at__gt=now - timedelta(minutes=window_minutes), finished_at__lte=now
    ).values_list("duration_ms", "succeeded"))
    if not rows:
        return 0, None, None, None
    durations = np.fromiter((row[0] for row in rows), dtype=float, count=len(rows))
    succeeded = sum(1 for row in rows if row[1])
    p50, p95 = np.percentile(durations, [50, 95])
    return len(rows), round(float(p50), 3), round(float(p95), 3), round(succeeded / len(rows) * 100, 3)


def check(equity_type: EquityType, now=None) -> SlaStatus:
    now = now or timezone.now()
    window = conf.get("EQUITY_RULES_SLA_WINDOW_MINUTES")
    samples, p50, p95, success_rate = figures(equity_type.equity_type, window, now)
    targets = equity_type.performance_targets
    target_ms, target_rate = float(targets["processing_time_ms"]), float(targets["success_rate"])
    breaches = []
    if samples >= conf.get("EQUITY_RULES_SLA_MIN_SAMPLES"):
        if p95 > target_ms:
            breaches.append({"metric": "processing_time_ms", "target": target_ms, "actual": p95})
        if success_rate < target_rate:
            breaches.append({"metric": "success_rate", "target": target_rate, "actual": success_rate})
    with transaction.atomic():
        SlaStatus.objects.get_or_create(equity_type=equity_type, defaults={"window_minutes": window})
        status = SlaStatus.objects.select_for_update().get(equity_type=equity_type)
        before = {breach["metric"] for breach in status.breaches}
        status.window_minutes, status.samples, status.p50_ms, status.p95_ms = window, samples, p50, p95
        status.success_rate, status.target_processing_time_ms = success_rate, target_ms
        status.target_success_rate, status.breaches, status.checked_at = target_rate, breaches, now
        status.save()
        for breach in breaches:
            if breach["metric"] not in before:
                publish("tickstock.equity.sla_breach", {
                    "equity_type": equity_type.equity_type, **breach, "window": f"{window}m", "samples": samples,
                    "statistic": "p95" if breach["metric"] == "processing_time_ms" else "share of attempts",
                })
    key = equity_type.equity_type
    for breach in breaches:
        unit = "ms (p95)" if breach["metric"] == "processing_time_ms" else "%"
        alerts.fire(f"equity_sla:{key}:{breach['metric']}", source="rules", severity="warning",
                    title=f"SLA breach for {key}: {breach['metric']} {breach['actual']} {unit} vs target "
                          f"{breach['target']}",
                    labels={"equity_type": key, "metric": breach["metric"], "window": f"{window}m"})
    for metric in before - {breach["metric"] for breach in breaches}:
        alerts.resolve(f"equity_sla:{key}:{metric}")
    return status
