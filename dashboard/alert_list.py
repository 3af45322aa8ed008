"""The overview's alert list, as Alertmanager's UI shows it: a filter of label matchers and free text kept in the
URL, toggles for silenced, acknowledged and inhibited alerts, a resolved view, and groups by source, type,
interval and exchange.

Matchers are the silences' own (`tickstock_ops.matchers`) over the alert's labels, plus `state` and
`silenced`/`inhibited` (`true` or `false`) for filtering only.
"""

import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from django.db.models import Count, Max
from django.http import QueryDict
from django.utils import timezone

from equity_rules.models import Security
from monitors.quality.models import Scan
from tickstock_ops import alerts, matchers
from tickstock_ops.models import Alert

SEVERITIES = [choice.value for choice in alerts.SEVERITY_ORDER]
LIMIT = 200
# Alerts a monitor re-checks on its own schedule: seen this recently, the condition is taken as still present.
RECHECKED_WITHIN = timedelta(minutes=15)
_MATCHER_START = re.compile(rf"^({matchers.NAME})(=~|!~|!=|=)(.*)$", re.S)
TOGGLES = {"silenced": True, "acknowledged": True, "inhibited": False}


@dataclass
class AlertFilter:
    query: str = ""
    view: str = "open"
    show: dict = field(default_factory=lambda: dict(TOGGLES))
    matchers: list = field(default_factory=list)
    words: list = field(default_factory=list)
    error: str = ""

    @classmethod
    def from_query(cls, params: QueryDict) -> "AlertFilter":
        found = cls(query=params.get("q", "").strip(), view="resolved" if params.get("view") == "resolved" else "open")
        for name, default in TOGGLES.items():
            value = params.get(name)
            found.show[name] = default if value is None else value == "1"
        try:
            found.matchers, found.words = parse_query(found.query)
        except (ValueError, matchers.MatcherError) as error:
            found.error = str(error)
        return found

    def url(self, **changes) -> str:
        """The query string of this filter with `changes` (for links and toggles)."""
        state = {"q": self.query, "view": self.view, **{k: "1" if v else "0" for k, v in self.show.items()}}
        state.update({k: v for k, v in changes.items()})
        defaults = {"q": "", "view": "open", **{k: "1" if v else "0" for k, v in TOGGLES.items()}}
        return "?" + urlencode({k: v for k, v in state.items() if v != defaults.get(k)})

    @property
    def open_url(self) -> str:
        return self.url(view="open")

    @property
    def resolved_url(self) -> str:
        return self.url(view="resolved")

    def accepts(self, alert: Alert, now) -> bool:
        silenced, inhibited = alert.is_silenced(now), alert.inhibited_by_id is not None
        if self.view == "open" and ((silenced and not self.show["silenced"]) or (inhibited and not self.show[
                "inhibited"]) or (alert.state == Alert.State.ACKNOWLEDGED and not self.show["acknowledged"])):
            return False
        labels = {**alert.match_labels(), "state": alert.state, "silenced": str(silenced).lower(),
                  "inhibited": str(inhibited).lower()}
        text = f"{alert.title} {alert.fingerprint}".lower()
        return matchers.matches_all(self.matchers, labels) and all(word in text for word in self.words)


def parse_query(query: str) -> tuple[list[matchers.Matcher], list[str]]:
    """`type=volume_spike source!=feed-a "bad print"` → matchers and free-text words (lower case)."""
    lexer = shlex.shlex(query, posix=True)
    lexer.whitespace += ","
    lexer.whitespace_split = True
    found, words = [], []
    for token in lexer:
        match = _MATCHER_START.match(token)
        if match:
            found.append(matchers.Matcher(*match.groups()))
        elif token:
            words.append(token.lower())
    return found, words


def listed(alert_filter: AlertFilter) -> dict:
    """The alerts the filter shows (at most LIMIT), grouped, with the number that matched."""
    now = timezone.now()
    if alert_filter.view == "resolved":
        rows = Alert.objects.filter(state=Alert.State.RESOLVED).order_by("-resolved_at")[:2000]
    else:
        rows = (Alert.objects.filter(state__in=alerts.OPEN_STATES).annotate(inhibiting=Count("inhibits"))
                .order_by("-last_seen"))
    rows = rows.select_related("acknowledged_by", "silenced_by", "silence")
    shown = [alert for alert in rows if alert_filter.accepts(alert, now)] if not alert_filter.error else []
    if alert_filter.view == "open":
        shown.sort(key=lambda a: (a.state != Alert.State.FIRING, SEVERITIES.index(a.severity)))
    mark_still_present(shown[:LIMIT], now)
    return {"alerts": shown[:LIMIT], "matched": len(shown), "groups": groups(shown[:LIMIT]),
            "filter": alert_filter, "limit": LIMIT}


def groups(rows: list[Alert]) -> list[dict]:
    """Open alerts by (source, type, interval, exchange); the exchange from the security master when the alert
    has none. The group's matchers are what "silence similar" proposes."""
    symbols = {a.labels.get("symbol") for a in rows if a.labels.get("symbol")}
    exchanges = dict(Security.objects.filter(symbol__in=symbols).values_list("symbol", "exchange"))
    found: dict[tuple, list[Alert]] = defaultdict(list)
    for alert in rows:
        source, kind, exchange = alerts.group_key(alert)
        exchange = exchange or exchanges.get(alert.labels.get("symbol"), "")
        found[(source, kind, alert.labels.get("interval", ""), exchange)].append(alert)
    return sorted(
        ({"source": source, "type": kind, "interval": interval, "exchange": exchange, "alerts": members,
          "count": len(members), "severity": min((m.severity for m in members), key=SEVERITIES.index),
          "matchers": similar_matchers(source, kind, interval, exchange, members)}
         for (source, kind, interval, exchange), members in found.items()),
        key=lambda g: (SEVERITIES.index(g["severity"]), -g["count"], g["type"], g["interval"]),
    )


def similar_matchers(source: str, kind: str, interval: str, exchange: str, members: list[Alert]) -> str:
    found = [matchers.Matcher("monitor", "=", source), matchers.Matcher("type", "=", kind)]
    if interval:
        found.append(matchers.Matcher("interval", "=", interval))
    if exchange and all(m.labels.get("exchange") == exchange for m in members):
        found.append(matchers.Matcher("exchange", "=", exchange))
    return matchers.text(found)


def still_present(alert: Alert, latest_scans: dict[str, int], now) -> bool:
    """Whether the last check still saw the condition: a manual resolve would be undone by the next check.
    Quality alerts: the latest scan of their interval saw them; others: seen within RECHECKED_WITHIN."""
    if alert.state == Alert.State.RESOLVED:
        return False
    if alert.source == "quality" and "scan_id" in alert.labels:
        return str(latest_scans.get(alert.labels.get("interval", "1d"))) == str(alert.labels["scan_id"])
    return now - alert.last_seen <= RECHECKED_WITHIN


def latest_scan_ids() -> dict[str, int]:
    return dict(Scan.objects.values_list("interval").annotate(latest=Max("id")))


def mark_still_present(rows: list[Alert], now) -> None:
    latest = latest_scan_ids()
    for alert in rows:
        alert.still_present = still_present(alert, latest, now)
