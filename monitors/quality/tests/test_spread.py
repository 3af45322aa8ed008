"""A scan spread over shards stores exactly what the same scan in one process stores: reports, anomalies, the
scan's summary, the events and the alerts, on a universe where the market's and sectors' medians decide
severities and where splits, bad prints, gaps, stale and missing symbols and a second source all occur."""

import importlib
import threading

import numpy as np
import pandas as pd
import pytest
from django.db import connection

from equity_rules.models import EquityType, Security
from monitors.quality import loader, reads, spread, tasks
from monitors.quality.models import Anomaly, PublishedAnomaly, Report, Scan
from monitors.quality.scan import run_scan
from monitors.quality.tests.builders import calm, daily, intraday, noisy_volume, sessions
from tickstock_ops import testing
from tickstock_ops.models import Alert, OutboxEvent

LENGTH = 160
DAYS = sessions("2025-01-02", LENGTH)
SECTORS = ["Technology", "Energy", "Health Care", ""]
VOLATILE = {"scan_id", "duration_s", "id", "alert_id", "alert_ids", "occurred_at", "started_at", "created_at",
            "first_seen", "last_seen"}


def universe() -> pd.DataFrame:
    """45 symbols in three sectors (and none) with a market-wide drop and gap, one sector's rally, and symbols
    with an unrecorded split that holds, a bad print, a volume spike, missing sessions, a halt in its data and a
    second source that disagrees."""
    frames = []
    for i in range(45):
        closes, volume = calm(LENGTH, seed=300 + i, daily_vol=0.012), noisy_volume(LENGTH, seed=400 + i)
        closes[120:] *= 0.78  # the whole market falls 22 %, opening 15 % down
        if i % 4 == 1:
            closes[140:] *= 1.27  # the energy sector rallies
        opens = np.r_[closes[0], closes[:-1]]
        opens[120] = closes[119] * 0.85
        if i == 3:  # an unrecorded 2-for-1 split that holds
            closes[100:] /= 2
            opens[100:] /= 2
            volume[100:] *= 2
        if i == 4:  # a bad print the next session takes back
            closes[130] *= 0.6
        if i == 5:
            volume[150] *= 12
        frame = daily(f"S{i:02d}", closes, opens=opens, volume=volume)
        if i == 6:
            frame = frame.drop(index=range(105, 109))
        if i == 7:
            frame = frame.iloc[:150]  # stale: nothing after session 150
        frames.append(frame)
    other = frames[0].copy()
    other.loc[other.index[155], "close"] *= 1.03
    return pd.concat(frames, ignore_index=True), other


def store_universe() -> None:
    bars, other = universe()
    loader.upsert_frame(bars.drop(columns=["source"]), source="csv", interval="1d")
    loader.upsert_frame(other.drop(columns=["source"]), source="vendor", interval="1d")
    # A transactional test starts from an empty database: no seeded equity types.
    seeded = importlib.import_module("equity_rules.migrations.0002_seed_equity_types")
    spec = next(spec for spec in seeded.SEED if spec["equity_type"] == "common_stock")
    stock = EquityType.objects.filter(equity_type="common_stock").first() or EquityType.objects.create(**spec)
    for i in range(45):
        Security.objects.create(symbol=f"S{i:02d}", name=f"Stock {i}", equity_type=stock, exchange="XNYS",
                                sector=SECTORS[i % 4])


def normal(value):
    """A payload without what differs between two runs of the same scan (ids, times, durations)."""
    if isinstance(value, dict):
        return {key: normal(item) for key, item in value.items() if key not in VOLATILE}
    if isinstance(value, list):
        return [normal(item) for item in value]
    return value


def outcome(scan: Scan) -> dict:
    return {
        "scan": (scan.kind, scan.interval, scan.as_of, scan.since, scan.symbols_scanned, scan.anomaly_count,
                 scan.mean_scores, scan.anomaly_counts),
        "reports": list(Report.objects.filter(scan=scan).order_by("symbol").values_list(
            "symbol", "equity_type", "price_score", "volume_score", "freshness_score", "overall_score",
            "recommendations")),
        "anomalies": list(Anomaly.objects.filter(report__scan=scan).order_by("id").values_list(
            "symbol", "anomaly_type", "severity", "interval", "source", "ts", "value", "threshold", "detail",
            "context", "first_seen")),
        "events": [(event.type, normal(event.payload)) for event in OutboxEvent.objects.order_by("id")],
        "alerts": sorted((alert.fingerprint, alert.severity, alert.title, alert.state, normal(alert.labels))
                         for alert in Alert.objects.filter(source="quality")),
    }


def forget_scans() -> None:
    for model in (Anomaly, Report, PublishedAnomaly, Scan, OutboxEvent):
        model.objects.all().delete()
    Alert.objects.all().delete()


@pytest.fixture
def workers(monkeypatch, redis_conn):
    """The shard tasks run by threads, as django-q2 workers would run them: what each one returned."""
    joined, threads = [], []

    def member(key: str) -> None:
        try:
            joined.append(tasks.scan_shard(key))
        finally:
            connection.close()

    def enqueue(func: str, key: str) -> None:
        assert func == "monitors.quality.tasks.scan_shard"
        threads.append(threading.Thread(target=member, args=(key,)))
        threads[-1].start()

    monkeypatch.setattr(spread, "async_task", enqueue)
    yield joined
    for thread in threads:
        thread.join(timeout=60)


def sharded_equals_single(run, workers, shards: int, anomalies: int) -> None:
    forget_scans()
    single = outcome(run(shards=1).scan)
    forget_scans()
    sharded = outcome(run(shards=shards).scan)
    assert sorted(part["shard"] for part in workers) == list(range(1, shards))
    assert all(part["of"] == shards and part["symbols"] > 0 for part in workers)
    assert len(single["anomalies"]) >= anomalies and single["alerts"]
    for part in single:
        assert sharded[part] == single[part], part


@pytest.mark.django_db(transaction=True)
def test_a_daily_scan_spread_over_three_shards_equals_the_scan_in_one_process(workers):
    store_universe()
    as_of = DAYS[-1].tz_localize("UTC") + pd.Timedelta(hours=23)

    def run(shards):
        return run_scan(as_of=as_of, since=DAYS[90].tz_localize("UTC"), shards=shards)

    sharded_equals_single(run, workers, 3, anomalies=60)
    # The market's fall on session 120 lowered its price anomalies below critical through the shared medians.
    fall = Anomaly.objects.filter(anomaly_type="price_anomaly", ts=DAYS[120].tz_localize("UTC"))
    assert fall.count() > 30 and set(fall.values_list("severity", flat=True)) <= {"warning", "info"}


@pytest.mark.django_db(transaction=True)
def test_requested_symbols_without_bars_and_minute_bars_spread_alike(workers):
    frames = [intraday(f"M{i:02d}", day, price=20 + i, volume=3000 + 100 * i,
                       skip=("11:00", "13:30") if i == 2 and day == "2025-06-27" else None,
                       end="14:00" if i == 3 and day == "2025-06-27" else None)
              for i in range(12) for day in ("2025-06-25", "2025-06-26", "2025-06-27")]
    bars = pd.concat(frames, ignore_index=True)
    bars.loc[bars.index[500], "close"] *= 1.4
    loader.upsert_frame(bars.drop(columns=["source"]), source="feed", interval="1m")
    as_of = pd.Timestamp("2025-06-27 15:30", tz="America/New_York").tz_convert("UTC")
    symbols = [f"M{i:02d}" for i in range(12)] + ["NOBARS"]

    def run(shards):
        return run_scan(as_of=as_of, since=as_of - pd.Timedelta(hours=7), symbols=symbols, interval="1m",
                        shards=shards)

    sharded_equals_single(run, workers, 2, anomalies=3)
    assert Report.objects.filter(symbol="NOBARS").count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_no_worker_to_join_the_scan_runs_in_one_process(monkeypatch, settings, redis_conn):
    settings.QUALITY_SCAN_SHARD_JOIN_SECONDS = 0.2
    monkeypatch.setattr(spread, "async_task", lambda func, key: None)
    store_universe()
    result = run_scan(as_of=DAYS[-1].tz_localize("UTC") + pd.Timedelta(hours=23), shards=4)
    assert result.scan.symbols_scanned == 45
    left = {name.rsplit(b":", 1)[1] for name in redis_conn.scan_iter("quality:scan-shards:*")}
    assert left <= {b"members", b"size"}  # the scan's messages are gone; late workers still learn it started


@pytest.mark.django_db(transaction=True)
def test_a_shard_that_fails_leaves_the_scan_to_one_process(monkeypatch, redis_conn):
    failures = []

    def broken(**params):
        raise RuntimeError("this worker's database went away")

    def member(key: str) -> None:
        try:
            spread.join(key, broken)
        except RuntimeError as error:
            failures.append(str(error))
        finally:
            connection.close()

    threads = []
    monkeypatch.setattr(spread, "async_task", lambda func, key: threads.append(
        threading.Thread(target=member, args=(key,))) or threads[-1].start())
    store_universe()
    as_of = DAYS[-1].tz_localize("UTC") + pd.Timedelta(hours=23)
    forget_scans()
    expected = outcome(run_scan(as_of=as_of, since=DAYS[90].tz_localize("UTC"), shards=1).scan)
    forget_scans()
    got = outcome(run_scan(as_of=as_of, since=DAYS[90].tz_localize("UTC"), shards=2).scan)
    for thread in threads:
        thread.join(timeout=60)
    assert failures == ["this worker's database went away"]
    assert got == expected


@pytest.mark.parametrize("names, count", [
    ([f"S{i:02d}" for i in range(45)], 3), (["A", "B"], 3), ([], 2), (["AAPL", "MSFT", "Z"], 1),
])
def test_symbol_ranges_share_out_every_symbol_once_named_or_not(names, count):
    ranges = reads.symbol_ranges(names, count)
    assert len(ranges) == count and ranges[0][0] is None and ranges[-1][1] is None
    for symbol in [*names, "", "0", "AA", "S00A", "S44", "ZZZZ", "\u00e9"]:
        holders = [part for part, (low, high) in enumerate(ranges)
                   if (low is None or symbol >= low) and (high is None or symbol < high)]
        assert len(holders) == 1, symbol
    shares = [sum(1 for name in names if (low is None or name >= low) and (high is None or name < high))
              for low, high in ranges]
    assert max(shares) - min(shares) <= 1


@pytest.mark.django_db
def test_a_shard_reads_only_its_range_of_symbols():
    store_universe()
    names = reads.universe_symbols("1d", None)
    parts = [reads.read_bars("1d", None, DAYS[-1].tz_localize("UTC") + pd.Timedelta(hours=23), shard=bounds)
             for bounds in reads.symbol_ranges(names, 3)]
    assert [sorted(part["symbol"].unique()) for part in parts] == [names[:15], names[15:30], names[30:]]
    whole = reads.read_bars("1d", None, DAYS[-1].tz_localize("UTC") + pd.Timedelta(hours=23))
    assert sum(len(part) for part in parts) == len(whole)


@pytest.mark.parametrize("shards, members", [(2, [(1, 0)]), (3, [(1, 15), (2, 0)])])
@pytest.mark.django_db(transaction=True)
def test_a_shard_whose_range_holds_no_bars_leaves_its_medians_to_the_others(workers, shards, members):
    """Requested symbols without bars sort after the others, so the last range holds none of the bars: its member
    finishes at once and another reduces its rows of the medians (with two shards, the only one left alone)."""
    store_universe()
    as_of = DAYS[-1].tz_localize("UTC") + pd.Timedelta(hours=23)
    symbols = [f"S{i:02d}" for i in range(45)] + [f"Z{i:02d}" for i in range(45)]

    def run(shards):
        return run_scan(as_of=as_of, since=DAYS[90].tz_localize("UTC"), symbols=symbols, shards=shards)

    forget_scans()
    single = outcome(run(1).scan)
    forget_scans()
    sharded = outcome(run(shards).scan)
    assert sorted((part["shard"], part["symbols"]) for part in workers) == members
    assert single["scan"][4] == 90 and len(single["anomalies"]) >= 60
    assert sharded == single


@pytest.mark.django_db(transaction=True)
def test_a_real_django_q2_cluster_takes_its_shard_and_the_result_equals_one_process(redis_conn, settings):
    """No stand-in for the task queue: the shard task goes through django-q2's broker to a `qcluster` process."""
    from django_q.models import Success
    from django_q.tasks import async_task

    store_universe()
    settings.QUALITY_SCAN_SHARD_JOIN_SECONDS = 10
    as_of = DAYS[-1].tz_localize("UTC") + pd.Timedelta(hours=23)
    cluster = testing.manage("qcluster", env=testing.process_env(Q_WORKERS="1"))
    try:
        async_task("math.floor", 1.5)  # the cluster is taking tasks once this one is done
        testing.wait_until(lambda: Success.objects.filter(func="math.floor").exists(), timeout=120,
                           what="the cluster to run its first task")
        forget_scans()
        single = outcome(run_scan(as_of=as_of, since=DAYS[90].tz_localize("UTC"), shards=1).scan)
        forget_scans()
        sharded = outcome(run_scan(as_of=as_of, since=DAYS[90].tz_localize("UTC"), shards=2).scan)
        shard = testing.wait_until(lambda: Success.objects.filter(func=spread.TASK).first(), timeout=60,
                                   what="the shard task's result")
    finally:
        testing.stop(cluster)
    assert shard.result["shard"] == 1 and shard.result["of"] == 2 and shard.result["symbols"] > 0
    for part in single:
        assert sharded[part] == single[part], part
