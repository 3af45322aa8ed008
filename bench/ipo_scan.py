"""Benchmark: one daily IPO scan of all four sources, and a 90-day backfill, against loopback servers.

Synthetic recorded-format data, per trading day: ~150 IPO-related SEC filings (registrations, amendments,
pricings, withdrawals) among 2,000 noise filings, ~25 new deals each with a Polygon listing, a Nasdaq calendar row
and news items — 200-250 IPO-related records a day. The loopback servers run in a process of their own; throttles
are off (the goal is our own cost, not the sources' limits).

    DEBUG=1 .venv/bin/python bench/ipo_scan.py [--days 90]

PostgreSQL database `tickstock_ipo_bench` and Redis unless DATABASE_URL / REDIS_URL say otherwise (a scratch
database: the IPO tables are emptied first).
"""

import sys
from pathlib import Path

# Run as `python bench/ipo_scan.py`, this folder would come first on the path, where bench/queue.py shadows the
# standard library's queue module: look from the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from bench._setup import django_on_postgres  # noqa: E402

django_on_postgres("tickstock_ipo_bench")

import requests  # noqa: E402
from django.conf import settings  # noqa: E402

from monitors.ipo import scan  # noqa: E402
from monitors.ipo.fake_sources import FakeSources, SourceData  # noqa: E402
from monitors.ipo.models import IPO, Conflict, ScanRun, SourceDay, SourceRecord, StatusChange  # noqa: E402
from monitors.ipo.sources.sec import is_trading_day  # noqa: E402

NY = ZoneInfo("America/New_York")
DEALS_PER_DAY = 25
NOISE_FORMS = ["8-K", "10-Q", "10-K", "4", "S-8", "S-3", "424B2", "424B3", "SC 13G", "13F-HR", "D", "6-K", "DEF 14A"]
SECTORS_SIC = ["2834", "7372", "3674", "6770", "6022", "4911", "1311", "5812", "3569", "6798", "2080", "4813"]
EXCHANGES = [("XNAS", "NASDAQ Global Select", "Nasdaq"), ("XNYS", "NYSE", "NYSE"), ("XASE", "NYSE American", "NYSE")]


def build(end: date, days: int, seed: int = 7) -> tuple[SourceData, dict]:
    rng = random.Random(seed)
    start = end - timedelta(days=days - 1)
    data = SourceData(polygon_page_size=1000)
    counts = {"deals": 0, "ipo_filings": 0, "noise_filings": 0}
    sessions = [start + timedelta(days=i) for i in range(-60, days + 45)]
    sessions = [d for d in sessions if is_trading_day(d)]
    calendar: dict[str, dict] = {}
    feed_items = []
    deal_no = 0
    for day in sessions:
        for _ in range(DEALS_PER_DAY):  # deals whose registration starts today
            deal_no += 1
            cik = str(3_000_000 + deal_no)
            ticker = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3)) + chr(65 + deal_no % 26)
            ticker = f"{ticker}{deal_no % 10}" if deal_no % 3 else ticker
            name = f"Bench Company {deal_no} Inc."
            sic = rng.choice(SECTORS_SIC)
            mic, nasdaq_exchange, sec_exchange = rng.choice(EXCHANGES)
            spac = sic == "6770"
            if spac:
                ticker, name = f"{ticker[:4]}U", f"Bench Acquisition {deal_no} Corp"
            timeline = [(day, "S-1")]
            later = [d for d in sessions if d > day]
            amendments = rng.randint(2, 6)
            for k in range(amendments):
                if len(later) > 4 * (k + 1):
                    timeline.append((later[4 * (k + 1) - 1], "S-1/A"))
            withdrawn = rng.random() < 0.1
            final = later[min(len(later) - 1, 4 * amendments + 2)] if later else day
            timeline.append((final, "RW" if withdrawn else "424B4"))
            listing = next((d for d in sessions if d > final), final)
            price = 10 if spac else rng.choice([12, 15, 16, 18, 21, 24])
            filings = []
            for n, (when, form) in enumerate(timeline):
                accession = f"0009{deal_no:06d}-{when:%y}-{n:06d}"
                filings.append((accession, when, form))
                data.sec_index.setdefault(when, []).append(
                    (cik, name.upper(), form, f"{when:%Y%m%d}", f"edgar/data/{cik}/{accession}.txt"))
                counts["ipo_filings"] += start <= when <= end
            recent = sorted(filings, key=lambda f: f[1], reverse=True)
            data.submissions[cik] = {
                "cik": cik, "name": name, "sic": sic, "sicDescription": "", "entityType": "operating",
                "tickers": [ticker] if listing <= end else [], "exchanges": [sec_exchange] if listing <= end else [],
                "filings": {"recent": {"accessionNumber": [f[0] for f in recent],
                                       "filingDate": [f[1].isoformat() for f in recent],
                                       "form": [f[2] for f in recent]}}}
            if withdrawn:
                month = calendar.setdefault(final.strftime("%Y-%m"), {"priced": [], "upcoming": [], "filed": [],
                                                                      "withdrawn": []})
                month["withdrawn"].append({"dealID": f"B{deal_no}", "proposedTickerSymbol": ticker,
                                           "companyName": name, "proposedExchange": nasdaq_exchange,
                                           "withdrawDate": f"{final.month}/{final.day}/{final.year}"})
                continue
            counts["deals"] += 1
            data.polygon_ipos.append({
                "ticker": ticker, "issuer_name": name, "listing_date": listing.isoformat(),
                "ipo_status": "history" if listing < end else "pending", "final_issue_price": price,
                "lowest_offer_price": price - 1, "highest_offer_price": price + 1, "max_shares_offered": 5_000_000,
                "shares_outstanding": rng.randint(20, 200) * 1_000_000, "primary_exchange": mic,
                "security_type": "UNIT" if spac else "CS", "currency_code": "USD", "us_code": f"B{deal_no:08d}"})
            month = calendar.setdefault(listing.strftime("%Y-%m"), {"priced": [], "upcoming": [], "filed": [],
                                                                    "withdrawn": []})
            row = {"dealID": f"B{deal_no}", "proposedTickerSymbol": ticker, "companyName": name,
                   "proposedExchange": nasdaq_exchange, "proposedSharePrice": f"{price:.2f}",
                   "sharesOffered": "5,000,000", "dollarValueOfSharesOffered": f"${price * 5_000_000:,}"}
            if listing <= end:
                month["priced"].append({**row, "pricedDate": f"{listing.month}/{listing.day}/{listing.year}",
                                        "dealStatus": "Priced"})
            else:
                month["upcoming"].append({**row, "expectedPriceDate": f"{listing.month}/{listing.day}/{listing.year}"})
            stamp = datetime(final.year, final.month, final.day, 20, 0, tzinfo=NY)
            feed_items.append(f"<item><title>{name} Prices IPO of 5,000,000 Shares at ${price}.00 "
                              f"({nasdaq_exchange.split()[0]}: {ticker})</title><guid>bench-{deal_no}-p</guid>"
                              f"<pubDate>{stamp.strftime('%a, %d %b %Y %H:%M:%S %z')}</pubDate></item>")
            stamp = datetime(day.year, day.month, day.day, 17, 0, tzinfo=NY)
            feed_items.append(f"<item><title>{name} files for IPO (ticker: {ticker})</title><guid>bench-{deal_no}-f"
                              f"</guid><pubDate>{stamp.strftime('%a, %d %b %Y %H:%M:%S %z')}</pubDate></item>")
    for day in list(data.sec_index):
        for n in range(2000):
            form = NOISE_FORMS[n % len(NOISE_FORMS)]
            cik = str(100_000 + rng.randint(0, 900_000))
            data.sec_index[day].append((cik, f"NOISE FILER {cik}", form, f"{day:%Y%m%d}",
                                        f"edgar/data/{cik}/0000{cik}-{day:%y}-{n:06d}.txt"))
            counts["noise_filings"] += start <= day <= end
        rng.shuffle(data.sec_index[day])
    for month, sections in calendar.items():
        data.nasdaq[month] = {"priced": {"rows": sections["priced"] or None},
                              "upcoming": {"upcomingTable": {"rows": sections["upcoming"] or None}},
                              "filed": {"rows": None}, "withdrawn": {"rows": sections["withdrawn"] or None}}
    data.feeds["/feeds/ipo.xml"] = ('<?xml version="1.0"?><rss version="2.0"><channel><title>IPO news</title>'
                                    + "".join(feed_items) + "</channel></rss>")
    return data, counts


def reset() -> None:
    for model in (Conflict, StatusChange, SourceRecord, SourceDay, ScanRun, IPO):
        model.objects.all().delete()


class ServerProcess:
    """The loopback sources in a process of their own, so that serving does not count as our cost."""

    def __init__(self, data: SourceData):
        self.data = data
        context = multiprocessing.get_context("fork")
        self.ready = context.Queue()
        self.stop = context.Event()
        self.process = context.Process(target=self._serve, daemon=True)

    def _serve(self) -> None:
        with FakeSources(self.data) as fake:
            self.ready.put(fake.settings())
            self.stop.wait()

    def __enter__(self) -> "ServerProcess":
        self.process.start()
        for name, value in self.ready.get(timeout=60).items():
            setattr(settings, name, value)
        self.url = settings.NASDAQ_BASE_URL
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.process.join(timeout=10)

    def requests(self) -> dict:
        """Requests served per source since the last call."""
        return requests.get(f"{self.url}/__requests?reset=1", timeout=10).json()


def report(label: str, result, seconds: float, server: ServerProcess) -> None:
    served = server.requests()
    print(f"{label}: {seconds:.2f} s, {len(result.ipo_ids)} IPOs touched")
    for name, stats in result.stats.items():
        print(f"  {name:8s} requests {served.get(name, 0):5d}  records {stats['fetched']:6d}  errors {stats['errors']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--end", default="2026-11-24")
    args = parser.parse_args()
    end = date.fromisoformat(args.end)
    data, counts = build(end, args.days)
    sessions = sum(1 for day in data.sec_index if end - timedelta(days=args.days) < day <= end)
    print(f"data over {args.days} days ({sessions} trading days): {counts['deals']} deals, "
          f"{counts['ipo_filings']} IPO filings ({counts['ipo_filings'] // sessions}/day) among "
          f"{counts['noise_filings']} noise filings ({counts['noise_filings'] // sessions}/day), "
          f"{len(data.polygon_ipos)} Polygon IPOs, {data.feeds['/feeds/ipo.xml'].count('<item>')} news items; "
          f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    sources = ["polygon", "sec", "nasdaq", "news"]
    next_day = end + timedelta(days=1)
    while not is_trading_day(next_day):
        next_day += timedelta(days=1)
    with ServerProcess(data) as server:
        server.requests()
        reset()
        started = time.perf_counter()
        result = scan.scan(end, sources)
        report(f"daily scan of {end}, empty database", result, time.perf_counter() - started, server)
        reset()
        started = time.perf_counter()
        result = scan.backfill(args.days, end, sources)
        report(f"{args.days}-day backfill to {end}, empty database", result, time.perf_counter() - started, server)
        started = time.perf_counter()
        result = scan.backfill(args.days, end, sources)
        report(f"{args.days}-day backfill again (resumed: every day done)", result, time.perf_counter() - started,
               server)
        started = time.perf_counter()
        result = scan.scan(next_day, sources)
        report(f"daily scan of {next_day} after the backfill (steady state)", result, time.perf_counter() - started,
               server)
        started = time.perf_counter()
        result = scan.scan(next_day, sources)
        report(f"daily scan of {next_day} again (nothing new)", result, time.perf_counter() - started, server)
    print(f"IPOs in the database: {IPO.objects.count()}")


if __name__ == "__main__":
    main()
