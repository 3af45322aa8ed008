"""Daily scans and backfills: each source fetches its units of work in its own thread (within its throttle);
this thread writes what they bring, one unit per transaction, and records which days are done."""

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from monitors.ipo import conf, ingest, merge, trading
from monitors.ipo.models import IPO, ScanRun, SourceDay
from monitors.ipo.sources import SourceClient, SourceError, enabled_clients
from monitors.ipo.sources.nasdaq import month_of, next_month
from monitors.ipo.sources.polygon import PolygonClient
from monitors.ipo.sources.record import Fetch
from monitors.ipo.sources.sec import KnownFilers
from tickstock_ops import alerts

log = logging.getLogger(__name__)

NEWS_LOOKBACK_DAYS = 2
@dataclass
class Unit:
    source: str
    days: list[date]
    work: Callable[[], Fetch]


@dataclass
class ScanResult:
    run: ScanRun
    start: date
    end: date
    stats: dict = field(default_factory=dict)
    disabled: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    ipo_ids: list[int] = field(default_factory=list)
    skipped_days: int = 0
    trading_check: trading.TradingResult | None = None

    def as_json(self) -> dict:
        """docs/commands.md: `{"date", "sources": {name: {"fetched", "errors"}}, "ipos": [IPO]}`."""
        ipos = IPO.objects.in_bulk(self.ipo_ids)
        return {
            "date": self.end.isoformat(),
            "sources": {name: {"fetched": s["fetched"], "errors": s["errors"]} for name, s in self.stats.items()},
            "ipos": [ipos[pk].as_contract() for pk in self.ipo_ids if pk in ipos],
        }


def window(days: int, end: date) -> list[date]:
    return [end - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def known_filers() -> KnownFilers:
    """Filers whose pending deal already has ticker and SIC (their next filings, amendments, need no submissions
    lookup; once a deal priced, its filer's filings are judged from its history again), and when each filer's
    deal started trading."""
    pending = [IPO.Status.FILED, IPO.Status.EXPECTED, IPO.Status.POSTPONED]
    complete = frozenset(IPO.objects.filter(status__in=pending).exclude(cik=None).exclude(ticker=None)
                         .exclude(sic_code="").values_list("cik", flat=True))
    listed = {}
    for cik, first_trade, listing in IPO.objects.filter(status=IPO.Status.TRADING).exclude(cik=None).values_list(
            "cik", "first_trade_date", "listing_date"):
        if first_trade or listing:
            listed[cik] = min(filter(None, (first_trade, listing, listed.get(cik))))
    return KnownFilers(complete, listed)


def daily_units(clients: dict[str, SourceClient], day: date) -> list[Unit]:
    """One daily scan: Polygon's deals listing that day and in the weeks after, SEC's index of that day,
    Nasdaq's calendar for that month and the next, the news of the last days."""
    units = []
    for name, client in clients.items():
        if name == "polygon":
            units.append(Unit(name, [day], lambda c=client: c.fetch_window([day], upcoming=True)))
        elif name == "sec":
            known = known_filers()
            units.append(Unit(name, [day], lambda c=client, k=known: c.fetch_day(day, known=k)))
        elif name == "nasdaq":
            months = [month_of(day), month_of(next_month(day))]
            units.append(Unit(name, [day], lambda c=client, m=months: c.fetch_months(m, [day])))
        elif name == "news":
            recent = window(NEWS_LOOKBACK_DAYS + 1, day)
            units.append(Unit(name, [day], lambda c=client, r=recent: c.fetch_window(r)))
    return units


def backfill_units(clients: dict[str, SourceClient], pending: dict[str, list[date]]) -> list[Unit]:
    """A backfill's work: SEC day by day, Polygon in chunks of days, Nasdaq by month, news in one go."""
    units = []
    known = known_filers() if "sec" in clients else None
    for name, client in clients.items():
        days = sorted(pending.get(name, []))
        if not days:
            continue
        if name == "sec":
            units += [Unit(name, [d], lambda c=client, d=d: c.fetch_day(d, known=known)) for d in days]
        elif name == "polygon":
            for chunk in _runs(days, conf.get("IPO_POLYGON_BACKFILL_CHUNK_DAYS")):
                units.append(Unit(name, chunk, lambda c=client, ch=chunk: c.fetch_window(ch)))
        elif name == "nasdaq":
            by_month: dict[str, list[date]] = {}
            for d in days:
                by_month.setdefault(month_of(d), []).append(d)
            units += [Unit(name, ds, lambda c=client, m=m, ds=ds: c.fetch_months([m], ds))
                      for m, ds in by_month.items()]
        elif name == "news":
            units.append(Unit(name, days, lambda c=client, ds=days: c.fetch_window(ds)))
    return units


def _runs(days: list[date], longest: int) -> list[list[date]]:
    """Consecutive days grouped, each group at most `longest` long."""
    groups: list[list[date]] = []
    for d in days:
        if groups and d - groups[-1][-1] == timedelta(days=1) and len(groups[-1]) < longest:
            groups[-1].append(d)
        else:
            groups.append([d])
    return groups


def scan(day: date, sources: list[str], progress: Callable[[int, int], None] | None = None) -> ScanResult:
    """One daily scan of `sources` for `day`, then the trading check for the deals due by `day`."""
    clients, disabled = enabled_clients(sources)
    run = ScanRun.objects.create(kind=ScanRun.Kind.SCAN, start_date=day, end_date=day, sources=list(clients))
    result = ScanResult(run, day, day, disabled=disabled)
    deadline = time.monotonic() + conf.get("IPO_SCAN_DEADLINE")
    _execute(result, clients, daily_units(clients, day), progress, deadline)
    if "polygon" in clients:
        _check_trading(result, clients["polygon"], day, None, deadline)
    _finish(result)
    return result


def backfill(days: int, end: date, sources: list[str], *, force: bool = False,
             progress: Callable[[int, int], None] | None = None) -> ScanResult:
    """Each day of the window ending at `end`, resumable; then the trading check of the deals due in it.

    The check runs once, as of `end`, for every deal due from the window's first day: with bars up to `end`
    it finds what a check on each day with that day's bars would have found, with one request per deal."""
    if days < 1:
        raise ValueError("--days must be at least 1")
    clients, disabled = enabled_clients(sources)
    dates = window(days, end)
    run = ScanRun.objects.create(kind=ScanRun.Kind.BACKFILL, start_date=dates[0], end_date=end,
                                 sources=list(clients))
    result = ScanResult(run, dates[0], end, disabled=disabled)
    done: set[tuple[str, date]] = set()
    if not force:
        done = set(SourceDay.objects.filter(source__in=list(clients), day__gte=dates[0], day__lte=end)
                   .values_list("source", "day"))
    pending = {name: [d for d in dates if (name, d) not in done] for name in clients}
    result.skipped_days = sum(len(dates) - len(p) for p in pending.values())
    deadline = time.monotonic() + conf.get("IPO_BACKFILL_DEADLINE")
    _execute(result, clients, backfill_units(clients, pending), progress, deadline)
    if "polygon" in clients:
        _check_trading(result, clients["polygon"], end, dates[0], deadline)
    _finish(result)
    return result


def _check_trading(result: ScanResult, client: PolygonClient, day: date, since: date | None,
                   deadline: float) -> None:
    """The trading check as of `day`, on the scan's own Polygon client (its throttle goes on), within the run's
    deadline."""
    with client.within(max(0.001, deadline - time.monotonic()), f"the {result.run.kind} run"):
        checked = trading.check_trading(day, client, since=since, within_scan=True)
    result.trading_check = checked
    result.stats["polygon"]["requests"] = client.requests_made
    for error in checked.errors:
        result.stats["polygon"]["errors"] += 1
        result.errors.append({"source": "polygon", "days": day.isoformat(), "error": f"trading check: {error}",
                              "retryable": True})
    result.ipo_ids = sorted(set(result.ipo_ids) | set(checked.touched))


def _execute(result: ScanResult, clients: dict[str, SourceClient], units: list[Unit],
             progress: Callable[[int, int], None] | None, deadline: float) -> None:
    """Fetch the units (a thread per source) and write what they bring, until done or until `deadline`
    (time.monotonic()): then the sources still fetching are cancelled and reported, the rest is kept."""
    result.stats = {name: {"fetched": 0, "errors": 0, "requests": 0, "units": 0} for name in clients}
    outcome = ingest.Outcome()
    index = merge.DealIndex()
    inbox: queue.Queue = queue.Queue(maxsize=64)
    stop = threading.Event()
    by_source: dict[str, list[Unit]] = {}
    for unit in units:
        by_source.setdefault(unit.source, []).append(unit)
    for source, source_units in by_source.items():
        threading.Thread(target=_fetch_all, args=(clients[source], source_units, inbox, stop),
                         name=f"ipo-{source}", daemon=True).start()
    left = {source: len(source_units) for source, source_units in by_source.items()}
    failed_sources: set[str] = set()
    finished, total = 0, len(units)
    if progress:
        progress(0, total)
    while finished < total:
        try:
            unit, fetch, error = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            stop.set()
            _deadline_passed(result, clients, left, failed_sources)
            break
        finished += 1
        left[unit.source] -= 1
        result.stats[unit.source]["units"] += 1
        if error is not None:
            failed_sources.add(unit.source)
            _unit_failed(result, unit, error)
        else:
            _unit_fetched(result, unit, fetch, index, outcome)
        if progress:
            progress(finished, total)
    for name, client in clients.items():
        result.stats[name]["requests"] = client.requests_made
        if name not in failed_sources:
            alerts.resolve(f"ipo:source:{name}")
    result.ipo_ids = sorted(outcome.touched)


def _finish(result: ScanResult) -> None:
    """`validated` once per deal the run touched, then the run's record."""
    ingest.announce_validated(result.ipo_ids)
    run = result.run
    run.stats, run.errors, run.ipos_touched, run.finished_at = result.stats, result.errors, len(result.ipo_ids), \
        timezone.now()
    run.save(update_fields=["stats", "errors", "ipos_touched", "finished_at"])


def _deadline_passed(result: ScanResult, clients: dict[str, SourceClient], left: dict[str, int],
                     failed_sources: set[str]) -> None:
    seconds = conf.get("IPO_BACKFILL_DEADLINE" if result.run.kind == ScanRun.Kind.BACKFILL else "IPO_SCAN_DEADLINE")
    for source, count in left.items():
        if count <= 0:
            continue
        clients[source].cancel()
        failed_sources.add(source)
        message = f"the {result.run.kind}'s {seconds:g}s deadline passed with {count} unit(s) not fetched"
        log.warning("%s: %s", source, message)
        result.stats[source]["errors"] += 1
        result.errors.append({"source": source, "days": f"{result.start}…{result.end}", "error": message,
                              "retryable": True})
        with transaction.atomic():
            ingest.report_error(source, message, retryable=True, alert=True)


def _fetch_all(client: SourceClient, units: list[Unit], inbox: queue.Queue, stop: threading.Event) -> None:
    for unit in units:
        if stop.is_set():
            return
        try:
            with client.within(conf.get("IPO_FETCH_DEADLINE"), f"{unit.source} {_describe(unit)}"):
                item = (unit, unit.work(), None)
        except SourceError as error:
            item = (unit, None, error)
        except Exception as error:  # a parser bug must become an error report, not a hung scan
            log.exception("%s: unexpected failure", unit.source)
            item = (unit, None, SourceError(unit.source, f"unexpected failure: {error!r}", retryable=False))
        while not stop.is_set():
            try:
                inbox.put(item, timeout=0.5)
                break
            except queue.Full:
                continue


def _describe(unit: Unit) -> str:
    return unit.days[0].isoformat() if len(unit.days) == 1 else f"{unit.days[0]}…{unit.days[-1]}"


def _unit_failed(result: ScanResult, unit: Unit, error: SourceError) -> None:
    message = f"{_describe(unit)}: {error.message}"
    log.warning("%s: %s", unit.source, message)
    result.stats[unit.source]["errors"] += 1
    result.errors.append({"source": unit.source, "days": _describe(unit), "error": error.message,
                          "retryable": error.retryable})
    with transaction.atomic():
        ingest.report_error(unit.source, message, retryable=error.retryable, alert=True)


def _unit_fetched(result: ScanResult, unit: Unit, fetch: Fetch, index: merge.DealIndex,
                  outcome: ingest.Outcome) -> None:
    stats = result.stats[unit.source]
    stats["fetched"] += len(fetch.candidates)
    before = outcome.errors
    ingest.apply_candidates(fetch.candidates, index, outcome)
    stats["errors"] += outcome.errors - before
    refused = [(None, problem) for item in fetch.candidates for problem in item.problems]
    with transaction.atomic():
        for problem in [*fetch.errors, *refused]:
            stats["errors"] += 1
            if isinstance(problem, SourceError):
                message, retryable, ticker = problem.message, problem.retryable, None
            else:
                ticker, message = problem
                retryable = True
            result.errors.append({"source": unit.source, "days": _describe(unit), "error": message,
                                  "retryable": retryable})
            ingest.report_error(unit.source, f"{_describe(unit)}: {message}"[:1000], retryable=retryable,
                                ticker=ticker if ticker and not str(ticker).isdigit() else None)
        now = timezone.now()
        for day in unit.days:
            SourceDay.objects.update_or_create(
                source=unit.source, day=day,
                defaults={"run": result.run, "fetched": len(fetch.candidates), "note": fetch.note[:200],
                          "done_at": now})
