"""The live demo feed behind `make run`: one-minute bars for the demo symbols, with problems planted in them,
published to the bar stream as TickStock publishes them, stored by the quality app's stream consumer
(docs/live-bars.md) and scanned by its scan, so a new user sees alerts arrive and clear.

While the exchange is open the feed follows the real clock. Otherwise it replays the last closed session from
its first hour on, `speed` simulated minutes per second, and starts that replay over at the close: the
quality app's own intraday schedule is idle then, so the two never judge each other's bars. A replay writes the
same bars every time (its random walk is seeded by the session), so replaying again keeps the minute history
and the scans already stored; only which anomalies were announced is forgotten, so they are announced again.

Planted, counted in feed minutes from the start of a run: volume spikes, a bad print, one symbol that stops
updating for 20 minutes (a staleness alert that resolves itself), and a whole source dropping out for
25 minutes (one source-level alert instead of one per symbol).
"""

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils import timezone

from monitors.quality import calendar
from monitors.quality.demo import demo_symbols
from monitors.quality.live import consumer, streams
from monitors.quality.models import PublishedAnomaly, Scan
from monitors.quality.scan import run_scan
from tickstock_ops import alerts
from tickstock_ops.redis_client import connect

log = logging.getLogger(__name__)

INTERVAL = "1m"
SOURCES = ("feed-a", "feed-b")
MINUTE = pd.Timedelta(minutes=1)
WARM_UP_MINUTES = 60
# Each scan judges the last half hour of bars: a problem keeps its alert firing (and counting) while it is in
# that window, and the alert resolves itself once the problem has cleared or scrolled out of it.
WINDOW = pd.Timedelta(minutes=30)
REPLAY_SEED = 11


@dataclass
class Plan:
    """What goes wrong when, in minutes after the feed's start."""

    spikes: dict[int, list[str]]
    bad_prints: dict[int, str]
    stale: tuple[str, int, int]
    outage: tuple[str, int, int]

    @classmethod
    def for_symbols(cls, symbols: list[str]) -> "Plan":
        return cls(
            spikes={1: [symbols[3]], 4: [symbols[7], symbols[12]], 30: [symbols[5]], 70: [symbols[10]]},
            bad_prints={2: symbols[1], 45: symbols[14]},
            stale=(symbols[2], 3, 23),
            outage=(SOURCES[1], 50, 75),
        )


@dataclass
class Feed:
    symbols: list[str]
    speed: float = 1.0
    scan_every: float = 10.0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(11))

    def __post_init__(self) -> None:
        self.sources = {symbol: SOURCES[i % 2] for i, symbol in enumerate(self.symbols)}
        self.plan = Plan.for_symbols(self.symbols)
        self._walk_from(self.rng)
        self.redis = connect(socket_timeout=10)
        self.consumer = consumer.BarConsumer(self.redis, [INTERVAL])

    def _walk_from(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.price = self.rng.uniform(20, 300, size=len(self.symbols))
        self.volume = self.rng.uniform(2_000, 20_000, size=len(self.symbols))

    # The clock

    def start(self, now: pd.Timestamp) -> None:
        """Begin a run: live when the exchange is open now, else a replay of the last closed session."""
        session = calendar.current_session(now)
        self.live = session is not None
        if self.live:
            self.session = session
            self.origin_real, self.origin_clock = time.monotonic(), now.floor("min")
        else:
            self.session = calendar.last_closed_session(now)
            opened = calendar.get_calendar().session_open(self.session)
            self.origin_real, self.origin_clock = time.monotonic(), opened + WARM_UP_MINUTES * MINUTE
            self._walk_from(np.random.default_rng(REPLAY_SEED + self.session.toordinal()))
        self.close = calendar.get_calendar().session_close(self.session)
        self.start_minute = self.origin_clock
        self._write_previous_session()
        self.written_to = calendar.get_calendar().session_open(self.session) - MINUTE
        self.last_scan = 0.0

    def _write_previous_session(self) -> None:
        """The session before this one, with nothing planted: minute volumes are judged against the same time of
        day in earlier sessions (docs/quality-checks.md), so the feed brings one along."""
        exchange = calendar.get_calendar()
        previous = exchange.previous_session(self.session)
        minutes = pd.date_range(exchange.session_open(previous), exchange.session_close(previous), freq="min",
                                inclusive="left")
        self._write(pd.concat([self.bars_for(ts) for ts in minutes], ignore_index=True))

    def clock(self) -> pd.Timestamp:
        if self.live:
            return calendar.utc(timezone.now())
        elapsed = (time.monotonic() - self.origin_real) * self.speed
        return min(self.origin_clock + pd.Timedelta(minutes=elapsed), self.close)

    def minute_of_run(self, ts: pd.Timestamp) -> int:
        return int((ts - self.start_minute) / MINUTE)

    # Bars

    def bars_for(self, ts: pd.Timestamp) -> pd.DataFrame:
        """One bar per symbol for the minute starting at `ts`, minus the planted silences."""
        n = len(self.symbols)
        minute = self.minute_of_run(ts)
        returns = self.rng.normal(0, 0.0012, size=n) + self.rng.normal(0, 0.0006)
        opened = self.price.copy()
        self.price = self.price * np.exp(returns)
        close = self.price.copy()
        volume = self.volume * np.exp(self.rng.normal(0, 0.3, size=n))
        for symbol in self.plan.spikes.get(minute, []):
            volume[self.symbols.index(symbol)] *= 14
        if minute in self.plan.bad_prints:
            close[self.symbols.index(self.plan.bad_prints[minute])] *= 0.72
        high = np.maximum(opened, close) * (1 + self.rng.uniform(0, 0.0008, size=n))
        low = np.minimum(opened, close) * (1 - self.rng.uniform(0, 0.0008, size=n))
        frame = pd.DataFrame({"symbol": self.symbols, "ts": ts, "open": opened, "high": high, "low": low,
                              "close": close, "volume": np.round(volume).astype(np.int64)})
        frame["source"] = frame["symbol"].map(self.sources)
        stale_symbol, stale_from, stale_to = self.plan.stale
        source, down_from, down_to = self.plan.outage
        silent = ((frame["symbol"] == stale_symbol) & (stale_from <= minute < stale_to)) | (
            (frame["source"] == source) & (down_from <= minute < down_to))
        return frame[~silent]

    def write_until(self, now: pd.Timestamp) -> int:
        """Write every whole minute up to `now` not written yet; the number of bars written."""
        minutes = pd.date_range(self.written_to + MINUTE, now.floor("min") - MINUTE, freq="min")
        if not len(minutes):
            return 0
        frame = pd.concat([self.bars_for(ts) for ts in minutes], ignore_index=True)
        self._write(frame)
        self.written_to = minutes[-1]
        return len(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        """Publish the bars to the bar stream, then store what waits there as `consume_bars` does (in its
        consumer group), so that the scan that follows sees them."""
        streams.publish_bars(self.redis, frame, interval=INTERVAL)
        self.consumer.run(once=True)

    # The loop

    def step(self) -> Scan | None:
        """Write what the clock has reached; scan when it is time. Returns the scan, if one ran."""
        now = self.clock().floor("s")
        self.write_until(now)
        if time.monotonic() - self.last_scan < self.scan_every:
            return None
        self.last_scan = time.monotonic()
        with alerts.grouped():
            result = run_scan(as_of=now.to_pydatetime(), since=(now - WINDOW).to_pydatetime(), interval=INTERVAL,
                              symbols=self.symbols)
        return result.scan

    def finished(self) -> bool:
        return not self.live and self.clock() >= self.close


def reset(symbols: list[str]) -> None:
    """Forget which of an earlier run's anomalies were announced, so that a replay of the same session announces
    them again. Its bars and scans stay: the replay writes the same bars again."""
    PublishedAnomaly.objects.filter(interval=INTERVAL, symbol__in=symbols).delete()


def run(*, symbols: int = 40, speed: float = 1.0, scan_every: float = 10.0, tick: float = 1.0,
        runs: int | None = None, stdout=None, verbose: bool = False) -> None:
    """Feed until stopped (or for `runs` replays): write bars every `tick` seconds, scan every `scan_every`."""
    feed = Feed(demo_symbols(symbols), speed=speed, scan_every=scan_every)
    done = 0
    while runs is None or done < runs:
        reset(feed.symbols)
        feed.start(calendar.utc(timezone.now()))
        mode = "live" if feed.live else f"replaying {feed.session:%Y-%m-%d} at {speed:g}x"
        if stdout:
            stdout.write(f"demo feed: {len(feed.symbols)} symbols, {mode}, from {feed.clock():%H:%M} UTC")
        while not feed.finished():
            scan = feed.step()
            if scan is not None and stdout and verbose:
                stdout.write(f"demo feed: scan {scan.pk} as of {scan.as_of:%H:%M}: {scan.anomaly_count} anomalies")
            time.sleep(tick)
        done += 1
