"""What the admin does to chosen IPOs: fetch them again from the sources, re-run the enrichment, keep an
operator's edits. Each hands what it learned to the one writer (`ingest`)."""

import logging
from dataclasses import dataclass, field

from django.db import transaction

from monitors.ipo import ingest, merge
from monitors.ipo.models import IPO
from monitors.ipo.sources import SourceError
from monitors.ipo.sources.polygon import PolygonClient, details_candidate
from monitors.ipo.sources.sec import SecClient, ipo_filings
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
        candidates, details = [], None
        try:
            if ipo.cik:
                company = sec.company(ipo.cik)
                candidates += [sec_candidate(row, company) for row in ipo_filings(company)]
            if polygon is not None and ipo.ticker:
                candidates += [c for c in (polygon.candidate(row) for row in polygon.list_ipos(ticker=ipo.ticker))
                               if c is not None]
                details = polygon.ticker_details(ipo.ticker)
        except SourceError as error:
            outcome.errors.append(f"{ipo}: {error}")
            with transaction.atomic():
                ingest.report_error(error.source, f"re-fetch of {ipo}: {error.message}", retryable=error.retryable,
                                    ticker=ipo.ticker)
            continue
        if details:
            with transaction.atomic():
                ingest.store_record(ipo, details_candidate(details, ipo.ticker))
        ingest.apply_candidates(candidates, index, ingest.Outcome())
        reenrich([ipo])
        outcome.refreshed += 1
    return outcome


def reenrich(ipos: list[IPO]) -> int:
    for ipo in ipos:
        with transaction.atomic():
            ingest.remerge(IPO.objects.select_for_update().get(pk=ipo.pk))
    ingest.announce_validated([ipo.pk for ipo in ipos])
    return len(ipos)


def record_manual_edit(ipo: IPO, changed: list[str], user: str) -> None:
    """An operator changed these fields of a deal in the admin: they win over every source from now on."""
    edits = {name: getattr(ipo, name) for name in changed if name in merge.PRECEDENCE}
    ingest.apply_manual_edit(ipo, edits, user, status_set="status" in changed)
