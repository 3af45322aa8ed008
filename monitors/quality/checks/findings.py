"""What every check produces and takes: the anomaly types, a finding, the universe a scan judges."""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from monitors.quality.thresholds import Profile

PRICE_TYPES = ("price_anomaly", "price_gap", "volatility_cluster", "technical_break", "corporate_action",
               "source_mismatch")
VOLUME_TYPES = ("volume_spike", "volume_drought")
FRESHNESS_TYPES = ("data_stale", "coverage_gap")
TREND_TYPES = ("volatility_cluster", "technical_break")
SERIES_TYPES = (*PRICE_TYPES, *VOLUME_TYPES)
ALL_TYPES = (*PRICE_TYPES, *VOLUME_TYPES, *FRESHNESS_TYPES)
# The scheduled intraday scan: freshness, and price moves, gaps and bad prints (docs/quality-checks.md).
INTRADAY_TYPES = (*FRESHNESS_TYPES, "price_anomaly", "price_gap")


@dataclass
class Finding:
    symbol: str
    type: str
    severity: str
    ts: pd.Timestamp
    value: float | None
    threshold: float | None
    detail: str
    source: str = ""
    extra: dict = field(default_factory=dict)
    # When the finding became certain, if later than `ts` (a split confirmed by the sessions after it): the scan
    # whose window holds this moment reports it.
    certain_at: pd.Timestamp | None = None
    # Certain at a session's close rather than at a bar (a hole up to the close, a session without bars): judged by
    # the scan's window, never by the symbol's watermark, or every scan until the next bar would report it again.
    at_close: bool = False


@dataclass
class Universe:
    """What the checks need besides the bars: per-symbol profiles and thresholds, corporate actions, the window."""

    interval: str
    as_of: pd.Timestamp
    since: pd.Timestamp | None
    profiles: dict[str, Profile]
    thresholds: dict[str, dict]
    actions: pd.DataFrame  # symbol, date (Timestamp), kind, ratio
    types: tuple[str, ...] = ALL_TYPES
    # A shard of a sharded scan: where the checks get what they need of other shards' symbols (the common time
    # axis, the market's and sectors' medians); None when the scan runs in one process (monitors/quality/spread.py).
    peers: Any = None
    # (symbol, source) → the newest bar the previous scheduled scan saw: bars after it are judged even when they
    # arrived after the window holding their timestamp had passed (docs/quality-scans.md).
    watermarks: dict[tuple[str, str], pd.Timestamp] = field(default_factory=dict)
    # symbol → where its window starts when its primary source's watermark lies before `since` (set by `run`).
    lowers: dict[str, pd.Timestamp] = field(default_factory=dict)

    def since_for(self, symbol: str) -> pd.Timestamp | None:
        """Where `symbol`'s window of bars to judge starts: `since`, or its watermark when that is earlier."""
        return self.lowers.get(symbol, self.since)

    def earliest(self) -> pd.Timestamp | None:
        """The earliest start of any symbol's window."""
        return min(self.lowers.values(), default=self.since) if self.since is not None else None
