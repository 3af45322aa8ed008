"""What each kind of alert means and what to check first: shown on the alert page, and the source of the runbook
table in docs/dashboard.md. Keyed by `Alert.kind` (the anomaly type, the SLA metric, or the fingerprint's prefix).
"""

from dataclasses import dataclass

from tickstock_ops.models import Alert


@dataclass(frozen=True)
class Entry:
    means: str
    first: tuple[str, ...]


RUNBOOK = {
    "price_anomaly": Entry(
        "A close moved more than the threshold (20% by default) from the previous close, and no recorded split "
        "explains it.",
        ("Compare the bar with a second source (the symbol page lists the sources).",
         "Look for a split or reverse split announced for that day; if the next sessions confirm one, record it "
         "with load_bars --actions.",
         "If only one print is off and the next bars contradict it, it is a bad print: ask the vendor to resend.")),
    "price_gap": Entry(
        "The open is far from the previous close (an overnight gap over the threshold).",
        ("Check for news, earnings or a trading halt between the sessions.",
         "Compare the open with a second source; a gap on one source only is a data problem.")),
    "volatility_cluster": Entry(
        "Short-window realised volatility is far above its long-window level.",
        ("Check whether the whole market or sector moved (the overview's anomaly counts by type).",
         "Look for bad prints inside the window: one wrong close doubles the measured volatility.")),
    "technical_break": Entry(
        "The close is far from its moving average, or crossed a long-standing support or resistance level.",
        ("Usually market news, not a data fault: confirm with a second source, then acknowledge.",)),
    "volume_spike": Entry(
        "Volume is at least 5 times its baseline (daily: the trailing average; intraday: the same minute of "
        "previous sessions, regular hours only).",
        ("Check for index rebalancing, options expiry, news or an auction print.",
         "A spike on one source only is a duplicated or mis-scaled print: compare the sources.")),
    "volume_drought": Entry(
        "Volume is at most 0.2 times its baseline over a full regular session.",
        ("Check whether the symbol was halted or suspended.",
         "Check whether the feed delivered only part of the session's bars (a coverage problem shows the same).")),
    "data_stale": Entry(
        "During market hours the newest bar is older than 10 minutes (for a whole source: most of its symbols).",
        ("Check that the feed or the bar consumer (consume_bars) is running and connected.",
         "Look at the source-level alert first: per-symbol staleness under it is the same cause.",
         "Outside market hours, early closes and holidays no bar is expected; a staleness alert then is a bug.")),
    "coverage_gap": Entry(
        "A trading session (daily bars) or over 2 hours of a session (intraday) has no bars; exchange holidays "
        "are not gaps.",
        ("Reload the missing range from the vendor (fetch_bars or load_bars) and rescan.",
         "Check whether the symbol was halted for that time.")),
    "source_mismatch": Entry(
        "Two sources disagree on the same bar beyond the tolerance.",
        ("Find which source is right with a third reference (the exchange's official close).",
         "If one source is stale or down, its alert inhibits these: fix that first.")),
    "corporate_action": Entry(
        "The data show a split (price basis and share volume both changed and held) that is not recorded.",
        ("Confirm the split with the issuer's announcement, then record it with load_bars --actions so that "
         "price checks stop flagging it.",)),
    "ipo": Entry(
        "An IPO source (Polygon/Massive, SEC EDGAR, Nasdaq or a news feed) failed during a scan; the other "
        "sources finished.",
        ("Read the error in the alert title: a 429 means the throttle is too fast, a 5xx or an HTML page means "
         "the source is down.",
         "Check the API key and the base URL settings; the next daily scan retries.")),
    "processing_time_ms": Entry(
        "The p95 processing time of an equity type's jobs is above its performance target over the window.",
        ("Check the processing queue depth and the workers (Rules & queue page).",
         "Look at the recent rules change of that type: a heavier rule set slows every job.")),
    "success_rate": Entry(
        "Too many of an equity type's processing attempts failed over the window.",
        ("Read the last errors of the dead letters (Rules & queue page).",
         "If one symbol fails repeatedly, fix or cancel its jobs; if all fail, check the rules and the data.")),
    "equity_queue_full": Entry(
        "The processing queue of an equity type reached its bound; new jobs were refused (nothing was dropped).",
        ("Check that the workers are running (process_queue or the django-q2 cluster).",
         "Raise processing_rules.queue_limit for the type, or add workers.")),
}
UNKNOWN = Entry("No runbook entry for this kind of alert yet.", ("Read the title, labels and activity below.",))


def for_alert(alert: Alert) -> Entry:
    return RUNBOOK.get(alert.kind, UNKNOWN)
