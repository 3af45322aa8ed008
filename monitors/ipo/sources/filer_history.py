"""Judging an SEC filing as of its own date, from its filer's history (docs/ipo.md, "How a filing is judged").

A registration (S-1, F-1, S-11, DRS and their amendments) is an IPO registration only if, before the day it was
filed, its filer had neither filed periodic reports (10-K, 10-Q, 20-F, 40-F, 8-K, 6-K: only a reporting company
files them) nor completed an offering (a 424B1/424B4 final prospectus or an EFFECT notice, not withdrawn since,
by a filer that trades). A pricing (424B1/424B4) prices the registration filed last before it, so it is an IPO
pricing when that registration is an IPO registration."""

from dataclasses import dataclass
from datetime import date

from monitors.ipo.sources.values import date_or_none

REGISTRATION = {"S-1", "S-1/A", "F-1", "F-1/A", "S-11", "S-11/A", "DRS", "DRS/A"}
UPSIZING = {"S-1MEF", "F-1MEF"}
EFFECTIVE = {"EFFECT"}
PRICED = {"424B4", "424B1"}
WITHDRAWAL = {"RW"}
IPO_FORMS = REGISTRATION | UPSIZING | EFFECTIVE | PRICED | WITHDRAWAL
PERIODIC_REPORTS = {"10-K", "10-K/A", "10-Q", "10-Q/A", "20-F", "20-F/A", "40-F", "40-F/A", "10-K405", "10-KT",
                    "10-QT", "8-K", "8-K/A", "6-K", "6-K/A"}
OFFERING_DONE = PRICED | EFFECTIVE


@dataclass(frozen=True)
class Filing:
    form: str
    day: date | None
    accession: str


def filings_in(block: dict) -> list[Filing]:
    """The filings of a submissions block (`filings.recent`, or an older page): parallel arrays."""
    if not isinstance(block, dict):
        return []
    forms = block.get("form") or []
    dates = block.get("filingDate") or []
    accessions = block.get("accessionNumber") or []
    return [Filing(str(form).upper(), date_or_none(dates[i]) if i < len(dates) else None,
                   str(accessions[i]) if i < len(accessions) else "") for i, form in enumerate(forms)]


def recent_filings(company: dict | None) -> list[Filing]:
    return filings_in(((company.get("filings") or {}).get("recent") or {}) if isinstance(company, dict) else {})


def older_pages(company: dict | None, before: date | None) -> list[str]:
    """Names of the submissions' older pages (`filings.files`) that may hold filings before `before`."""
    files = ((company.get("filings") or {}).get("files") or []) if isinstance(company, dict) else []
    names = []
    for page in files:
        if isinstance(page, dict) and isinstance(page.get("name"), str):
            start = date_or_none(page.get("filingFrom"))
            if before is None or start is None or start < before:
                names.append(page["name"])
    return names


def tickers_of(company: dict | None) -> list[str]:
    tickers = (company.get("tickers") or []) if isinstance(company, dict) else []
    return [t for t in tickers if isinstance(t, str) and t]


def registration_reason(history: list[Filing], tickers: list[str], day: date | None) -> str | None:
    """Why a registration filed on `day` is not an IPO registration, or None when it is one."""
    if day is None:
        return None
    before = sorted((f for f in history if f.day is not None and f.day < day), key=lambda f: f.day)
    report = next((f for f in before if f.form in PERIODIC_REPORTS), None)
    if report is not None:
        return f"not an IPO: the filer already reported ({report.form} filed {report.day}) before this filing"
    done = None
    for filing in before:
        if filing.form in OFFERING_DONE:
            done = done or filing
        elif filing.form in WITHDRAWAL:
            done = None
    if done is not None and tickers:
        return (f"not an IPO: the filer completed an offering ({done.form} filed {done.day}) and trades as "
                f"{tickers[0]}")
    return None


def pricing_reason(history: list[Filing], tickers: list[str], day: date | None) -> str | None:
    """Why a pricing filed on `day` creates no deal: it prices no registration, or one that was no IPO."""
    registrations = [f for f in history if f.form in REGISTRATION and f.day is not None
                     and (day is None or f.day <= day)]
    if not registrations:
        return "a pricing without an IPO registration (S-1/F-1/S-11/DRS) in the filer's history"
    priced = max(registrations, key=lambda f: f.day)
    reason = registration_reason(history, tickers, priced.day)
    return f"not an IPO pricing (its registration is the {priced.form} of {priced.day}): {reason}" if reason else None
