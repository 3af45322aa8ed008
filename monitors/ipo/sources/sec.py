"""SEC EDGAR: the daily master index (which forms were filed that day) and each filer's submissions JSON."""

import functools
import logging
from dataclasses import dataclass, field
from datetime import date

import exchange_calendars
import pandas as pd
from django.conf import settings

from monitors.ipo import conf
from monitors.ipo.sources.filer_history import (
    EFFECTIVE,
    IPO_FORMS,
    PRICED,
    REGISTRATION,
    WITHDRAWAL,
    Filing,
    filings_in,
    older_pages,
    pricing_reason,
    recent_filings,
    registration_reason,
    tickers_of,
)
from monitors.ipo.sources.record import Candidate, Fetch
from monitors.ipo.sources.values import date_or_none, exchange_mic, text_or_none
from tickstock_ops.http import SourceClient, SourceError

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class IndexRow:
    cik: str
    company_name: str
    form_type: str
    date_filed: date | None
    file_name: str

    @property
    def accession(self) -> str:
        return self.file_name.rsplit("/", 1)[-1].removesuffix(".txt")

    def as_dict(self) -> dict:
        return {"cik": self.cik, "company_name": self.company_name, "form_type": self.form_type,
                "date_filed": self.date_filed.isoformat() if self.date_filed else None, "file_name": self.file_name}


def parse_master_index(text: str) -> list[IndexRow]:
    """Rows of a `master.YYYYMMDD.idx`: pipe-delimited after a header block closed by a dashed line."""
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("-----")), None)
    if start is None:
        raise ValueError("no dashed line ending the header: not an EDGAR master index")
    rows = []
    for line in lines[start:]:
        parts = line.split("|")
        if len(parts) != 5 or not parts[0].strip().isdigit():
            continue
        cik, name, form, filed, file_name = (part.strip() for part in parts)
        rows.append(IndexRow(str(int(cik)), name, form.upper(), date_or_none(filed), file_name))
    return rows


@functools.cache
def _calendar():
    return exchange_calendars.get_calendar("XNYS")


def is_trading_day(day: date) -> bool:
    """Whether EDGAR publishes an index for `day`: NYSE sessions, as the holidays are (almost) the same."""
    calendar = _calendar()
    stamp = pd.Timestamp(day)
    if not calendar.first_session <= stamp <= calendar.last_session:
        return day.weekday() < 5
    return bool(calendar.is_session(stamp))


def quarter_path(day: date) -> str:
    return f"/Archives/edgar/daily-index/{day.year}/QTR{(day.month - 1) // 3 + 1}/master.{day:%Y%m%d}.idx"


class SecClient(SourceClient):
    name = "sec"

    def __init__(self, user_agent: str | None = None, base_url: str | None = None, data_url: str | None = None,
                 per_second: float | None = None, **kwargs):
        per_second = settings.SEC_REQUESTS_PER_SECOND if per_second is None else per_second
        kwargs.setdefault("limits", conf.http_limits())
        super().__init__(base_url or settings.SEC_BASE_URL, per_second=per_second,
                         headers={"User-Agent": user_agent or settings.SEC_USER_AGENT,
                                  "Accept-Encoding": "gzip, deflate"}, **kwargs)
        self.data_url = (data_url or settings.SEC_DATA_URL).rstrip("/")
        self._companies: dict[str, dict] = {}
        self._pages: dict[str, list[Filing]] = {}

    @classmethod
    def from_settings(cls) -> "SecClient":
        return cls()

    def daily_index(self, day: date) -> list[IndexRow] | None:
        """The day's filings, or None when EDGAR has no index for it (weekend, holiday, not yet published)."""
        text = self.get_text(quarter_path(day), missing_ok=True)
        if text is None:
            return None
        try:
            return parse_master_index(text)
        except ValueError as error:
            raise SourceError(self.name, f"daily index for {day}: {error}", retryable=True) from None

    def company(self, cik: str) -> dict:
        """The filer's submissions JSON (`cik name sic tickers exchanges filings.recent …`), once per client."""
        if cik not in self._companies:
            body = self.get_json(f"{self.data_url}/submissions/CIK{int(cik):010d}.json")
            if not isinstance(body, dict):
                raise SourceError(self.name, f"submissions of CIK {cik}: not a JSON object", retryable=True)
            self._companies[cik] = body
        return self._companies[cik]

    def older_filings(self, company: dict, before: date | None) -> list[Filing]:
        """The filer's filings on the submissions' older pages (`filings.files`) that may precede `before`."""
        filings = []
        for name in older_pages(company, before):
            if name not in self._pages:
                body = self.get_json(f"{self.data_url}/submissions/{name}")
                if not isinstance(body, dict):
                    raise SourceError(self.name, f"submissions page {name}: not a JSON object", retryable=True)
                self._pages[name] = filings_in(body)  # an older page holds the parallel arrays at its top
            filings += self._pages[name]
        return filings

    def fetch_day(self, day: date, *, known: "KnownFilers | None" = None) -> Fetch:
        """IPO-related filings of `day`, each judged as of its date (filer_history). The amendments and notices
        of filers whose pending deals are complete in our records need no lookup; a new registration always has
        its filer's history read."""
        fetch = Fetch(self.name, [day])
        rows = self.daily_index(day)
        if rows is None:
            if is_trading_day(day):
                raise SourceError(self.name, f"no daily index for trading day {day} (not published yet?)",
                                  retryable=True, status=404)
            fetch.note = "no daily index: EDGAR is closed that day"
            return fetch
        fetch.candidates, fetch.errors = ipo_candidates(rows, self.company, known, self.older_filings)
        return fetch


@dataclass(frozen=True)
class KnownFilers:
    """What our records say of filers: whose deals are complete (no submissions lookup needed), and since when
    a filer's deal trades (its later registrations are follow-ons)."""

    complete: frozenset = frozenset()
    listed_since: dict = field(default_factory=dict)  # CIK → the day its deal started trading


def ipo_candidates(rows: list[IndexRow], company_of, known: KnownFilers | None = None,
                   older_of=None) -> tuple[list[Candidate], list]:
    """Candidates for the IPO-related rows of an index; `company_of(cik)` gives a filer's submissions and
    `older_of(company, before)` the filings on its older pages. A filer that cannot be looked up still gives its
    candidate, from the index row alone, and an error."""
    known = known or KnownFilers()
    candidates, errors = [], []
    for row in rows:
        if row.form_type not in IPO_FORMS:
            continue
        company, history = None, []
        new_registration = row.form_type in REGISTRATION and not row.form_type.endswith("/A")
        if row.cik not in known.complete or new_registration:
            try:
                company = company_of(row.cik)
                history = recent_filings(company)
            except SourceError as error:
                errors.append((row.cik, f"submissions of CIK {row.cik}: {error.message}"))
        listed = known.listed_since.get(row.cik)
        item = candidate(row, company, history, listed)
        if older_of and company is not None and not item.follow_on and row.form_type in REGISTRATION | PRICED \
                and older_pages(company, row.date_filed):
            try:
                item = candidate(row, company, history + older_of(company, row.date_filed), listed)
            except SourceError as error:
                errors.append((row.cik, f"older submissions of CIK {row.cik}: {error.message}"))
        candidates.append(item)
    return candidates, errors


def candidate(row: IndexRow, company: dict | None, history: list[Filing] | None = None,
              listed_since: date | None = None) -> Candidate:
    """What one IPO-related filing says, with its filer's submissions and filing history where known."""
    form = row.form_type
    raw = {"index": row.as_dict()}
    item = Candidate(source=SecClient.name, key=row.accession, raw=raw, kind=form, cik=row.cik,
                     company_name=row.company_name)
    if company is not None:
        raw["company"] = {key: company.get(key) for key in
                          ("cik", "name", "sic", "sicDescription", "tickers", "exchanges", "entityType")}
        item.company_name = text_or_none(company.get("name")) or row.company_name
        item.sic_code = text_or_none(company.get("sic"))
        tickers = tickers_of(company)
        item.ticker = tickers[0].upper() if tickers else None
        exchanges = [e for e in (company.get("exchanges") or []) if e]
        item.exchange = exchange_mic(exchanges[0]) if exchanges else None
    history = recent_filings(company) if history is None else history
    follow_on = (f"a follow-on: the filer's deal trades since {listed_since}"
                 if listed_since and row.date_filed and listed_since < row.date_filed else None)
    if form in REGISTRATION:
        item.status, item.filed_date = "filed", row.date_filed
        reason = follow_on or (registration_reason(history, tickers_of(company), row.date_filed) if company else None)
        if reason:  # kept as a note on the filer's deal; moves nothing
            item.status, item.filed_date, item.follow_on = None, None, True
    elif form in PRICED:
        item.status = "priced"
        if follow_on:
            reason, item.follow_on = follow_on, True
        elif company is None:
            reason = "the filer's submissions could not be read: a pricing creates a deal only when it prices an " \
                     "IPO registration"
        else:
            reason = pricing_reason(history, tickers_of(company), row.date_filed)
            item.follow_on = bool(reason and reason.startswith("not an IPO"))
    elif form in WITHDRAWAL:
        item.status, reason = "withdrawn", "a withdrawal only moves a deal already known"
    else:
        reason = "an effectiveness notice only moves a deal already known" if form in EFFECTIVE \
            else "an upsizing only moves a deal already known"
    if reason:
        item.creates_ipo, item.note = False, reason
    return item


def ipo_filings(company: dict) -> list[IndexRow]:
    """The filer's IPO-related filings in its submissions, as daily-index rows."""
    cik = str(int(company.get("cik") or 0))
    return [IndexRow(cik, company.get("name") or "", f.form, f.day, f"edgar/data/{cik}/{f.accession}.txt")
            for f in recent_filings(company) if f.form in IPO_FORMS and f.accession]
