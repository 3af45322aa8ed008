"""What a notification says: a title, then each alert's severity, title, labels, a detail line and its link."""

from django.conf import settings

from tickstock_ops.models import Alert
from tickstock_ops.notify import conf
from tickstock_ops.notify.models import NotificationGroup
from tickstock_ops.notify.send import Message

SEVERITY_ORDER = [Alert.Severity.CRITICAL, Alert.Severity.WARNING, Alert.Severity.INFO]
HIDDEN_LABELS = {"scan_id", "fingerprint"}


def dashboard_url() -> str:
    return f"{settings.TICKSTOCK_BASE_URL.rstrip('/')}/"


def alert_url(alert: Alert) -> str:
    return f"{dashboard_url()}alerts/{alert.pk}/"


def build(group: NotificationGroup, firing: list[Alert], resolved: list[Alert], *, repeat: bool = False) -> Message:
    """One message for a group: the alerts that fire (all of them again for a repeat) and those that resolved."""
    scope = group.scope or group.route
    if firing:
        worst = min((alert.severity for alert in firing), key=SEVERITY_ORDER.index)
        head = f"[FIRING:{len(firing)}]" if len(firing) > 1 else "[FIRING]"
        subject = scope if len(firing) > 1 else firing[0].title
        title = f"{head} [{worst}] {subject}" + (" (still firing)" if repeat else "")
        if resolved:
            title += f", {len(resolved)} resolved"
    else:
        worst = "resolved"
        title = f"[RESOLVED:{len(resolved)}] {scope}" if len(resolved) > 1 else f"[RESOLVED] {resolved[0].title}"
    lines = [f"Group {scope} → receiver {group.receiver} (route {group.route})"]
    for heading, alerts in (("Firing", firing), ("Resolved", resolved)):
        if alerts:
            lines += ["", f"{heading} ({len(alerts)}):"]
            lines += _listing(alerts)
    return Message(title=title[:250], body="\n".join(lines), severity=worst)


def _listing(alerts: list[Alert]) -> list[str]:
    limit = int(conf.get("NOTIFY_MAX_LISTED"))
    ordered = sorted(alerts, key=lambda alert: (SEVERITY_ORDER.index(alert.severity), alert.title))
    lines = []
    for alert in ordered[:limit]:
        labels = " ".join(f"{name}={value}" for name, value in sorted(alert.match_labels().items())
                          if name not in HIDDEN_LABELS and value != "")
        lines += [f"- [{alert.severity}] {alert.title}", f"  labels: {labels}",
                  f"  {detail_line(alert)}", f"  {alert_url(alert)}"]
    if len(ordered) > limit:
        lines.append(f"… and {len(ordered) - limit} more: {dashboard_url()}")
    return lines


def detail_line(alert: Alert) -> str:
    if alert.state == Alert.State.RESOLVED and alert.resolved_at:
        return f"resolved {alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC after {alert.count} sighting(s)"
    detail = alert.labels.get("detail")
    seen = f"seen {alert.count}× since {alert.first_seen:%Y-%m-%d %H:%M:%S} UTC, last {alert.last_seen:%H:%M:%S}"
    return f"{detail} · {seen}" if detail else seen
