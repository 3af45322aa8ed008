"""The admin's actions on chosen IPOs: fetch them again from the sources, or re-run the enrichment."""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from monitors.ipo import ingest, merge, trading
from monitors.ipo.models import IPO
from monitors.ipo.sources import SourceError
from monitors.ipo.sources.polygon import PolygonClient
from monitors.ipo.sources.record import Candidate
from monitors.ipo.sources.sec import SecClient
from monitors.ipo.sources.sec import candidate as sec_candidate

log = logging.getLogger(__name__)


@dataclass
class RefetchOutcome:
    refreshed: int = 0
    errors: list[str] = field(default_factory=list)


def refetch(ipos: list[IPO]) -> RefetchOutcome:
    """Ask SEC (by CIK) and Polygon (by ticker) again about each deal and merge what they say now."""
    outcome = RefetchOutcome()
    sec = SecClient.from_settings()
    polygon = PolygonClient.from_settings()
    index = merge.DealIndex()
    for ipo in ipos:
        candidates = []
        try:
            if ipo.cik:
                company = sec.company(ipo.cik)
                candidates += [sec_candidate(row, company) for row in _recent_ipo_filings(company)]
            if polygon is not None and ipo.ticker:
                candidates += [c for c in (polygon.candidate(row) for row in polygon.list_ipos(ticker=ipo.ticker))
                               if c is not None]
                details = polygon.ticker_details(ipo.ticker)
                if details:
                    with transaction.atomic():
                        trading.store_details(ipo, details)
        except SourceError as error:
            outcome.errors.append(f"{ipo}: {error}")
            with transaction.atomic():
                ingest.report_error(error.source, f"re-fetch of {ipo}: {error.message}", retryable=error.retryable,
                                    ticker=ipo.ticker)
            continue
        ingest.apply_candidates(candidates, index, ingest.Outcome())
        reenrich([ipo])
        outcome.refreshed += 1
    return outcome


def _recent_ipo_filings(company: dict):
    """The filer's IPO-related filings from its submissions, as daily-index rows."""
    from monitors.ipo.sources.sec import IPO_FORMS, IndexRow
    from monitors.ipo.sources.values import date_or_none

    recent = (company.get("filings") or {}).get("recent") or {}
    forms = recent.get("form") or []
    dates = recent.get("filingDate") or []
    accessions = recent.get("accessionNumber") or []
    cik = str(int(company.get("cik") or 0))
    for i, form in enumerate(forms):
        if str(form).upper() in IPO_FORMS and i < len(accessions):
            yield IndexRow(cik, company.get("name") or "", str(form).upper(),
                           date_or_none(dates[i]) if i < len(dates) else None,
                           f"edgar/data/{cik}/{accessions[i]}.txt")


def reenrich(ipos: list[IPO]) -> int:
    count = 0
    for ipo in ipos:
        with transaction.atomic():
            fresh = IPO.objects.select_for_update().get(pk=ipo.pk)
            ingest.finish(fresh)
        count += 1
    ingest.announce_validated([ipo.pk for ipo in ipos])
    return count


def record_manual_edit(ipo: IPO, changed: list[str], user: str) -> None:
    """Keep an operator's edits of merged fields as the deal's `manual` record, so that the next merge keeps
    them (they win over every source), and a status edit in the history. Then re-merge and re-enrich."""
    from monitors.ipo.models import SourceRecord, StatusChange

    with transaction.atomic():
        record, _ = SourceRecord.objects.get_or_create(
            source=merge.MANUAL, key=f"ipo:{ipo.pk}", defaults={"ipo": ipo, "raw": {}, "content_hash": ""})
        probe = Candidate(source=merge.MANUAL, key=record.key, raw={},
                          **{name: getattr(ipo, name) for name in changed if name in merge.PRECEDENCE})
        parsed = {**record.parsed, **probe.parsed()}
        for name in changed:
            if name in merge.PRECEDENCE and getattr(ipo, name) in (None, ""):
                parsed.pop(name, None)  # clearing a field hands it back to the sources
        record.parsed, record.raw = parsed, {"edited_by": user, "fields": parsed}
        record.fetched_at = timezone.now()
        record.save()
        if "status" in changed:
            previous = ipo.status_changes.last()
            StatusChange.objects.create(ipo=ipo, from_status=previous.to_status if previous else "",
                                        to_status=ipo.status, source="admin", note=f"set by {user}"[:300])
        ingest.finish(ipo)
    ingest.announce_validated([ipo.pk])
