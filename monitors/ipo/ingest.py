"""Writing what the sources fetched: records, IPOs, status moves, enrichment and the events they cause."""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from monitors.ipo import enrich, merge
from monitors.ipo.models import IPO, SourceRecord, StatusChange
from monitors.ipo.sources.record import Candidate
from tickstock_ops import alerts
from tickstock_ops.events import publish

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    touched: set[int] = field(default_factory=set)
    created: int = 0
    errors: int = 0


def detected_payload(ipo: IPO) -> dict:
    date = ipo.listing_date or ipo.expected_date
    return {"ticker": ipo.ticker, "cik": ipo.cik, "company_name": ipo.company_name, "exchange": ipo.exchange or None,
            "expected_date": date.isoformat() if date else None, "status": ipo.status, "sources": list(ipo.sources)}


def report_error(source: str, error: str, *, retryable: bool, ticker: str | None = None,
                 alert: bool = False) -> None:
    """`tickstock.ipo.error` (and, for a whole source failing, an alert). Call inside a transaction."""
    publish("tickstock.ipo.error", {"source": source, "ticker": ticker, "error": error, "retryable": retryable})
    if alert:
        alerts.fire(f"ipo:source:{source}", source="ipo", title=f"IPO source {source} failed: {error}"[:300],
                    severity="warning" if retryable else "critical", labels={"source": source})


def finish(ipo: IPO, *, new: bool = False) -> None:
    """Re-merge, enrich and validate `ipo` and save it; `detected` when `new`. The `validated` event follows
    at the end of the run (`announce_validated`), once per deal, however many sources it merged."""
    merge.recompute(ipo)
    enrich.enrich(ipo)
    if new:
        publish("tickstock.ipo.detected", detected_payload(ipo))
    ipo.save()


def announce_validated(ipo_ids) -> int:
    """`tickstock.ipo.validated` for each deal that passes and whose announced values changed since the last
    time (so a re-scan that changes nothing announces nothing). Returns how many were announced."""
    count = 0
    for ipo in IPO.objects.filter(pk__in=list(ipo_ids)).order_by("pk"):
        if ipo.validation_errors:
            continue
        payload = enrich.validated_payload(ipo)
        fingerprint = enrich.fingerprint(payload)
        if fingerprint == ipo.validated_fingerprint:
            continue
        with transaction.atomic():
            IPO.objects.filter(pk=ipo.pk).update(validated_fingerprint=fingerprint)
            publish("tickstock.ipo.validated", payload)
        count += 1
    return count


def apply_candidates(candidates: list[Candidate], index: merge.DealIndex, outcome: Outcome) -> None:
    """Write one unit's candidates in one transaction; a candidate that fails is rolled back alone and reported.
    A record seen before is skipped unless it changed, or it matched no deal then and matches one now (a
    withdrawal that arrived before the deal it withdraws)."""
    if not candidates:
        return
    now = timezone.now()
    with transaction.atomic():
        keys_by_source: dict[str, list[str]] = {}
        for candidate in candidates:
            keys_by_source.setdefault(candidate.source, []).append(candidate.key)
        existing = {}
        for source, keys in keys_by_source.items():
            for chunk in range(0, len(keys), 500):
                for record in SourceRecord.objects.filter(source=source, key__in=keys[chunk:chunk + 500]):
                    existing[(record.source, record.key)] = record
        unchanged = []
        for candidate in candidates:
            record = existing.get((candidate.source, candidate.key))
            digest = merge.content_hash(candidate)
            if record is not None and record.content_hash == digest and (
                    record.ipo_id or index.find(candidate) is None):
                unchanged.append(record.pk)
                if record.ipo_id:
                    outcome.touched.add(record.ipo_id)
                continue
            try:
                with transaction.atomic():
                    record = apply_one(candidate, record, digest, now, index, outcome)
            except Exception as error:
                log.exception("%s: cannot apply %s", candidate.source, candidate.key)
                outcome.errors += 1
                report_error(candidate.source, f"record {candidate.key}: {error!r}"[:1000], retryable=False,
                             ticker=candidate.ticker)
                continue
            if record.ipo_id:
                outcome.touched.add(record.ipo_id)
            existing[(candidate.source, candidate.key)] = record
        if unchanged:
            SourceRecord.objects.filter(pk__in=unchanged).update(fetched_at=now)


def apply_one(candidate: Candidate, record: SourceRecord | None, digest: str, now, index: merge.DealIndex,
              outcome: Outcome) -> SourceRecord:
    ipo_id = (record.ipo_id if record is not None else None) or index.find(candidate)
    ipo = IPO.objects.get(pk=ipo_id) if ipo_id else None
    created = False
    if ipo is None and candidate.creates_ipo:
        ipo = IPO(company_name=candidate.company_name or candidate.ticker, ticker=candidate.ticker,
                  cik=candidate.cik, status=candidate.status or IPO.Status.FILED, sources=[candidate.source],
                  security_type=candidate.security_type or "", exchange=candidate.exchange or "",
                  expected_date=candidate.expected_date, listing_date=candidate.listing_date)
        ipo.save()
        StatusChange.objects.create(ipo=ipo, from_status="", to_status=ipo.status, source=candidate.source,
                                    note=f"first seen: {candidate.kind}"[:300])
        created = True
    values = {"ipo": ipo, "kind": candidate.kind[:30], "raw": candidate.raw, "parsed": candidate.parsed(),
              "content_hash": digest, "fetched_at": now,
              "note": ("" if ipo is not None else candidate.note or "matches no known deal")[:300]}
    if record is None:
        record = SourceRecord.objects.create(source=candidate.source, key=candidate.key, first_seen=now, **values)
    else:
        SourceRecord.objects.filter(pk=record.pk).update(**values)
        for name, value in values.items():
            setattr(record, name, value)
    if ipo is None:
        return record
    if not created:
        merge.move_status(ipo, candidate.status, candidate.source, f"{candidate.kind} {candidate.key}")
    finish(ipo, new=created)
    outcome.created += created
    index.remember(ipo)
    return record
