"""Settings defaults of data-quality monitoring. Override any of them in Django settings (or a test's `settings`)."""

from django.conf import settings

from tickstock_ops.conf import setting

# Threshold defaults when an equity type's `quality` rules say nothing (docs/quality-checks.md).
DEFAULT_THRESHOLDS = {
    "price_move_pct": 20.0,
    "gap_pct": 10.0,
    "volume_spike_ratio": 5.0,
    "volume_drought_ratio": 0.2,
    "stale_minutes": 10.0,
    "source_tolerance_pct": 0.5,
    "source_volume_tolerance_pct": 10.0,
    "volatility_ratio": 3.0,
    "ma_distance_pct": 25.0,
}


def thresholds() -> dict:
    """The global defaults: QUALITY_THRESHOLDS in settings overrides the built-in values key by key."""
    return {**DEFAULT_THRESHOLDS, **getattr(settings, "QUALITY_THRESHOLDS", {})}


DEFAULTS = {
    "QUALITY_DEFAULT_SOURCE": "csv",
    "QUALITY_DEFAULT_EXCHANGE": "XNYS",
    "QUALITY_DEFAULT_EQUITY_TYPE": "common_stock",
    # Bars of trailing history a baseline needs before volume and volatility checks judge a symbol:
    # a new listing with three bars has no meaningful average yet.
    "QUALITY_MIN_HISTORY": 10,
    "QUALITY_VOLUME_WINDOW": 20,
    "QUALITY_VOLATILITY_SHORT_WINDOW": 5,
    "QUALITY_VOLATILITY_LONG_WINDOW": 60,
    # A daily realised volatility below this (in %) is too quiet to call a cluster, whatever the ratio.
    "QUALITY_VOLATILITY_FLOOR_PCT": 1.5,
    "QUALITY_MA_WINDOW": 50,
    # Support/resistance: the extreme of the last LEVEL_WINDOW bars, set at least LEVEL_AGE bars ago and held since.
    "QUALITY_LEVEL_WINDOW": 60,
    "QUALITY_LEVEL_AGE": 20,
    "QUALITY_LEVEL_BREAK_PCT": 2.0,
    # Volume checks skip thin symbols: trailing average below this many shares per full session.
    "QUALITY_MIN_SESSION_VOLUME": 10_000,
    # Intraday: a hole inside a session longer than this is a coverage gap.
    "QUALITY_INTRADAY_GAP_MINUTES": 120,
    # Sessions of history read before `since` so baselines exist for the first reported bar.
    "QUALITY_DAILY_LOOKBACK_SESSIONS": 130,
    "QUALITY_INTRADAY_LOOKBACK_SESSIONS": 1,
    # Sector/market move needs this many symbols moving that bar to count as a benchmark.
    "QUALITY_MIN_PEERS": 5,
    "QUALITY_INTRADAY_INTERVAL": "1m",
    # A source is stale as a whole (one source-level alert instead of one per symbol) from this share of symbols.
    "QUALITY_SOURCE_STALE_SHARE": 0.5,
    "QUALITY_LOAD_CHUNK_ROWS": 100_000,
    # The exchange calendar starts here at the latest (an ISO date; None = the library's 20 years), and reaches
    # further back whenever older bars are judged.
    "QUALITY_CALENDAR_START": None,
    # Sessions after a possible unrecorded split that must hold its volume and price basis to confirm it.
    "QUALITY_SPLIT_CONFIRM_SESSIONS": 5,
    # A listing's first sessions are left out of volume baselines (the decay after an IPO day is no drought).
    "QUALITY_LISTING_SKIP_SESSIONS": 5,
    # Minute-bar volume baselines: the same slot of the session over previous sessions.
    "QUALITY_INTRADAY_BASELINE_SESSIONS": 10,
    "QUALITY_INTRADAY_BASELINE_MIN_SESSIONS": 1,
    "QUALITY_INTRADAY_VOLUME_BUCKET_MINUTES": 5,
    # Live bars from TickStock's streams (docs/live-bars.md).
    "QUALITY_LIVE_INTERVALS": ["1m", "5m", "1d"],
    "QUALITY_LIVE_GROUP": "tickstock-ops",
    # Entries per read and per transaction, and how many one consumer may hold read but not acknowledged: the
    # next batch is read while the current one is stored.
    "QUALITY_LIVE_BATCH_SIZE": 50_000,
    "QUALITY_LIVE_MAX_IN_FLIGHT": 100_000,
    "QUALITY_LIVE_BLOCK_MS": 1_000,
    # Entries another consumer has held this long without acknowledging them are claimed: it is presumed dead.
    "QUALITY_LIVE_CLAIM_IDLE_SECONDS": 60,
    # /healthz turns 503 and an alert fires when the oldest unstored entry of a stream is older than this.
    "QUALITY_LIVE_MAX_LAG_SECONDS": 120,
    # MAXLEN ~ of the streams when this project publishes bars itself (the demo feed, tests, benchmarks).
    "QUALITY_LIVE_STREAM_MAXLEN": 5_000_000,
    "QUALITY_LIVE_REJECTED_MAXLEN": 100_000,
    # The cluster's scheduled consumer runs this long (under django-q2's 300 s timeout), unless another consumer
    # of the group has been active this recently.
    "QUALITY_LIVE_CLUSTER_RUN_SECONDS": 240,
    "QUALITY_LIVE_ACTIVE_WITHIN_SECONDS": 15,
    # Input bounds of imported bars and actions (docs/input-bounds.md). A bar's timestamp must fall between the
    # earliest date and now plus the slack; a date outside 1677-2262 would not even fit pandas' nanoseconds.
    "QUALITY_EARLIEST_BAR": "1900-01-01",
    "QUALITY_BAR_FUTURE_SLACK_SECONDS": 86_400,
    "QUALITY_PRICE_RANGE": (0.000001, 1_000_000_000),
    "QUALITY_MAX_VOLUME": 1e15,
    # Splits: new shares per old share, from a 1-for-100,000 reverse split to a 100,000-for-1 split.
    "QUALITY_SPLIT_RATIO_RANGE": (0.00001, 100_000),
    "QUALITY_DIVIDEND_RANGE": (0.000001, 1_000_000),
    # Corporate actions are announced ahead: their dates may lie this far in the future.
    "QUALITY_ACTION_FUTURE_DAYS": 366,
    # How long an import waits for another import of the same source and interval to finish.
    "QUALITY_LOAD_LOCK_TIMEOUT_SECONDS": 120,
    # The bar table's time partitions on PostgreSQL (docs/scaling.md): months per partition by interval (1 when not
    # listed), how many months ahead the schedule creates them, and per interval how many days of bars are kept
    # (None = for ever); retention drops whole partitions, waiting at most the lock timeout for a busy table.
    # Change the months per partition only before the first migrate: existing partitions keep their spans.
    "QUALITY_BAR_PARTITION_MONTHS": {"1d": 12},
    "QUALITY_BAR_PARTITIONS_AHEAD": 2,
    "QUALITY_BAR_RETENTION_DAYS": {"1m": 365, "5m": 365, "15m": 365, "30m": 365, "1h": 365, "1d": None},
    "QUALITY_BAR_RETENTION_LOCK_TIMEOUT_SECONDS": 10,
    # A scan spread over django-q2 workers (docs/quality-scans.md): how many shards to ask for (1 = one process), how
    # long to wait for workers to join, and the deadline of every exchange between shards (under django-q2's 300 s).
    "QUALITY_SCAN_SHARDS": 1,
    "QUALITY_SCAN_SHARD_JOIN_SECONDS": 2.0,
    "QUALITY_SCAN_SHARD_TIMEOUT_SECONDS": 240,
}


def get(name: str):
    return setting(name, DEFAULTS)
