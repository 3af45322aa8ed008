"""SEC EDGAR: the daily master index (which forms were filed that day) and each filer's submissions JSON."""

import functools
import logging
from dataclasses import dataclass
from datetime import date

import exchange_calendars
import pandas as pd
from django.conf import settings

from monitors.ipo import conf
from monitors.ipo.sources.record import Candidate, Fetch
from monitors.ipo.sources.values import date_or_none, exchange_mic, text_or_none
from tickstock_ops.http import SourceClient, SourceError

log = logging.getLogger(__name__)

REGISTRATION = {"S-1", "S-1/A", "F-1", "F-1/A", "S-11", "S-11/A", "DRS", "DRS/A"}
UPSIZING = {"S-1MEF", "F-1MEF"}
EFFECTIVE = {"EFFECT"}
PRICED = {"424B4", "424B1"}
WITHDRAWAL = {"RW"}
IPO_FORMS = REGISTRATION | UPSIZING | EFFECTIVE | PRICED | WITHDRAWAL
PERIODIC_REPORTS = {"10-K", "10-Q", "20-F", "40-F", "10-K405", "10-KT"}
REGISTRATION_BASES = {"S-1", "F-1", "S-11", "DRS"}


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

    def fetch_day(self, day: date, *, known_ciks: frozenset = frozenset()) -> Fetch:
        """IPO-related filings of `day`. Filers in `known_ciks` (deals already complete in our records) are not
        looked up again: their new filings only move the deal along."""
        fetch = Fetch(self.name, [day])
        rows = self.daily_index(day)
        if rows is None:
            if is_trading_day(day):
                raise SourceError(self.name, f"no daily index for trading day {day} (not published yet?)",
                                  retryable=True, status=404)
            fetch.note = "no daily index: EDGAR is closed that day"
            return fetch
        fetch.candidates, fetch.errors = ipo_candidates(rows, self.company, known_ciks)
        return fetch



def ipo_candidates(rows: list[IndexRow], company_of, known_ciks=frozenset()) -> tuple[list[Candidate], list]:
    """Candidates for the IPO-related rows of an index; `company_of(cik)` gives a filer's submissions.
    A filer that cannot be looked up still gives its candidate, from the index row alone, and an error."""
    candidates, errors = [], []
    for row in rows:
        if row.form_type not in IPO_FORMS:
            continue
        company = None
        if row.cik not in known_ciks:
            try:
                company = company_of(row.cik)
            except SourceError as error:
                errors.append((row.cik, f"submissions of CIK {row.cik}: {error.message}"))
        candidates.append(candidate(row, company))
    return candidates, errors


def candidate(row: IndexRow, company: dict | None) -> Candidate:
    """What one IPO-related filing says, with its filer's submissions where known."""
    form = row.form_type
    raw = {"index": row.as_dict()}
    item = Candidate(source=SecClient.name, key=row.accession, raw=raw, kind=form, cik=row.cik,
                     company_name=row.company_name)
    if company is not None:
        raw["company"] = {key: company.get(key) for key in
                          ("cik", "name", "sic", "sicDescription", "tickers", "exchanges", "entityType")}
        item.company_name = text_or_none(company.get("name")) or row.company_name
        item.sic_code = text_or_none(company.get("sic"))
        tickers = [t for t in (company.get("tickers") or []) if isinstance(t, str) and t]
        item.ticker = tickers[0].upper() if tickers else None
        exchanges = [e for e in (company.get("exchanges") or []) if e]
        item.exchange = exchange_mic(exchanges[0]) if exchanges else None
    if form in REGISTRATION:
        item.status, item.filed_date = "filed", row.date_filed
        reason = reporting_company_reason(company, row.date_filed)
    elif form in PRICED:
        item.status = "priced"
        reason = reporting_company_reason(company, row.date_filed) or (
            None if company is None or has_registration(company)
            else f"{form} without an IPO registration (S-1/F-1/S-11/DRS) in the filer's history")
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
    recent = (company.get("filings") or {}).get("recent") or {}
    accessions = recent.get("accessionNumber") or []
    cik = str(int(company.get("cik") or 0))
    return [IndexRow(cik, company.get("name") or "", form, day, f"edgar/data/{cik}/{accessions[i]}.txt")
            for i, (form, day) in enumerate(recent_filings(company)) if form in IPO_FORMS and i < len(accessions)]


def recent_filings(company: dict) -> list[tuple[str, date | None]]:
    recent = ((company.get("filings") or {}).get("recent") or {}) if isinstance(company, dict) else {}
    forms = recent.get("form") or []
    dates = recent.get("filingDate") or []
    return [(str(form).upper(), date_or_none(dates[i]) if i < len(dates) else None) for i, form in enumerate(forms)]


def has_registration(company: dict) -> bool:
    return any(form.split("/")[0] in REGISTRATION_BASES for form, _ in recent_filings(company))


def reporting_company_reason(company: dict | None, filed: date | None) -> str | None:
    """Why a filer's registration is not an IPO: it already filed periodic reports before (a resale S-1)."""
    if company is None or filed is None:
        return None
    registrations = [day for form, day in recent_filings(company)
                     if form.split("/")[0] in REGISTRATION_BASES and day is not None]
    first_registration = min(registrations, default=filed)
    for form, day in recent_filings(company):
        if form in PERIODIC_REPORTS and day is not None and day < first_registration:
            return f"the filer is already a reporting company ({form} filed {day}): not an IPO"
    return None
