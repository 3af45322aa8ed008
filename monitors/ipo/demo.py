"""Demo data: recorded-format payloads of every source (demo_data/). `make run` replays them through the same
parsers the live clients use (`load`); `scan_ipos --demo` and `backfill_ipos --demo` run the real scan against
them on a loopback server (`serving`). No network; safe to run again."""

import contextlib
import json
from datetime import date, datetime
from pathlib import Path

from django.test import override_settings

from monitors.ipo import ingest, merge, trading
from monitors.ipo.fake_sources import FakeSources, SourceData
from monitors.ipo.models import IPO
from monitors.ipo.sources.nasdaq import calendar_candidates
from monitors.ipo.sources.news import classify, parse_feed
from monitors.ipo.sources.polygon import PolygonClient, parse_bars
from monitors.ipo.sources.sec import ipo_candidates, parse_master_index
from tickstock_ops.http import SourceError

DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_DAYS = [date(2026, 11, 23), date(2026, 11, 24)]
FEED_PATH = "/feeds/ipo.xml"


def _json(name: str):
    return json.loads((DATA / name).read_text())


def _index_days() -> dict[date, str]:
    return {datetime.strptime(path.name.split(".")[1], "%Y%m%d").date(): path.read_text()
            for path in sorted((DATA / "sec").glob("master.*.idx"))}


def _submissions() -> dict[str, dict]:
    return {str(int(path.stem.removeprefix("CIK"))): json.loads(path.read_text())
            for path in (DATA / "sec" / "submissions").glob("CIK*.json")}


def _calendars() -> dict[str, dict]:
    return {path.stem.removeprefix("nasdaq_calendar_"): json.loads(path.read_text())
            for path in sorted(DATA.glob("nasdaq_calendar_*.json"))}


def source_data() -> SourceData:
    """The same recordings, for a loopback server that serves them (tests, trying the commands)."""
    index = {}
    for day, text in _index_days().items():
        index[day] = [(r.cik, r.company_name, r.form_type, f"{r.date_filed:%Y%m%d}", r.file_name)
                      for r in parse_master_index(text)]
    return SourceData(
        polygon_ipos=_json("polygon_ipos.json")["results"],
        tickers={t: body["results"] for t, body in _json("polygon_tickers.json").items()},
        bars={t: body["results"] for t, body in _json("polygon_aggs.json").items()},
        sec_index=index, submissions=_submissions(),
        nasdaq={month: body["data"] for month, body in _calendars().items()},
        feeds={FEED_PATH: (DATA / "news_ipo_feed.xml").read_text()},
    )


@contextlib.contextmanager
def serving():
    """Every source's settings pointed, for the duration, at a loopback server answering from the bundled
    recordings; yields the server's URL. A weekday without recorded filings has an empty SEC index."""
    data = source_data()
    data.empty_index_when_missing = True
    with FakeSources(data) as fake, override_settings(**fake.settings()):
        yield fake.url


def load() -> None:
    companies = _submissions()

    def company_of(cik: str) -> dict:
        if cik not in companies:
            raise SourceError("sec", f"no recorded submissions for CIK {cik}", retryable=False)
        return companies[cik]

    index = merge.DealIndex()
    outcome = ingest.Outcome()
    for _day, text in sorted(_index_days().items()):
        candidates, _errors = ipo_candidates(parse_master_index(text), company_of)
        ingest.apply_candidates(candidates, index, outcome)
    polygon = PolygonClient(api_key="demo", per_minute=0)
    ingest.apply_candidates([c for c in map(polygon.candidate, _json("polygon_ipos.json")["results"]) if c],
                            index, outcome)
    for month, body in _calendars().items():
        ingest.apply_candidates(calendar_candidates(body["data"], month)[0], index, outcome)
    feed = f"file://{FEED_PATH}"
    items = parse_feed((DATA / "news_ipo_feed.xml").read_bytes())
    ingest.apply_candidates([c for c in (classify(item, feed) for item in items) if c], index, outcome)
    details = {t: body["results"] for t, body in _json("polygon_tickers.json").items()}
    for ticker, body in _json("polygon_aggs.json").items():
        ipo = IPO.objects.filter(ticker=ticker).first()
        if ipo is not None:
            trading.record_bars(ipo, parse_bars(body["results"]), details.get(ticker))
            outcome.touched.add(ipo.pk)
    ingest.announce_validated(outcome.touched)
