"""Writing what the sources fetched: records, IPOs, status moves, enrichment and the events they cause."""

import logging
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.utils import timezone

from monitors.ipo import enrich, merge
from monitors.ipo.models import IPO, Conflict, SourceRecord, StatusChange
from monitors.ipo.sources.record import Candidate
from tickstock_ops import alerts
from tickstock_ops.events import publish, publish_many

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
    ids = sorted(set(ipo_ids))
    fresh, payloads = [], []
    for chunk in range(0, len(ids), 500):
        for ipo in IPO.objects.filter(pk__in=ids[chunk:chunk + 500]).order_by("pk"):
            if ipo.validation_errors:
                continue
            payload = enrich.validated_payload(ipo)
            fingerprint = enrich.fingerprint(payload)
            if fingerprint != ipo.validated_fingerprint:
                ipo.validated_fingerprint = fingerprint
                fresh.append(ipo)
                payloads.append(payload)
    if fresh:
        with transaction.atomic():
            IPO.objects.bulk_update(fresh, ["validated_fingerprint"], batch_size=500)
            publish_many("tickstock.ipo.validated", payloads)
    return len(fresh)


MERGED_FIELDS = ["company_name", "name_key", "ticker", "cik", "exchange", "status", "security_type", "is_spac",
                 "filed_date", "expected_date", "listing_date", "offer_price", "price_low", "price_high",
                 "shares_offered", "shares_outstanding", "sic_code", "description", "sector", "sector_method",
                 "sector_reason", "market_cap_estimate", "market_cap_basis", "eligible", "eligibility_reason",
                 "sources", "validation_errors", "updated_at"]
RECORD_FIELDS = ["ipo", "kind", "raw", "parsed", "content_hash", "fetched_at", "note"]


def apply_candidates(candidates: list[Candidate], index: merge.DealIndex, outcome: Outcome) -> None:
    """Write one unit's candidates in one transaction, in bulk. Records seen before are skipped unless they
    changed, or matched no deal then and match one now (a withdrawal that arrived before its deal). If the bulk
    write fails, the unit is written again one candidate at a time: a bad one is rolled back alone and reported."""
    if not candidates:
        return
    now = timezone.now()
    with transaction.atomic():
        existing = _existing_records(candidates)
        latest: dict[tuple[str, str], tuple] = {}
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
            latest[(candidate.source, candidate.key)] = (candidate, record, digest)
        todo = list(latest.values())
        state = index.snapshot()
        try:
            with transaction.atomic():
                _apply(todo, now, index, outcome)
        except Exception:
            log.warning("bulk write of %d records failed; writing them one at a time", len(todo), exc_info=True)
            index.restore(state)
            for item in todo:
                _apply_alone(item, now, index, outcome)
        if unchanged:
            SourceRecord.objects.filter(pk__in=unchanged).update(fetched_at=now)


def _existing_records(candidates: list[Candidate]) -> dict[tuple[str, str], SourceRecord]:
    keys_by_source: dict[str, list[str]] = {}
    for candidate in candidates:
        keys_by_source.setdefault(candidate.source, []).append(candidate.key)
    existing = {}
    for source, keys in keys_by_source.items():
        for chunk in range(0, len(keys), 500):
            for record in SourceRecord.objects.filter(source=source, key__in=keys[chunk:chunk + 500]).only(
                    "pk", "source", "key", "content_hash", "ipo_id"):
                existing[(record.source, record.key)] = record
    return existing


def _apply_alone(item: tuple, now, index: merge.DealIndex, outcome: Outcome) -> None:
    candidate = item[0]
    state = index.snapshot()
    try:
        with transaction.atomic():
            _apply([item], now, index, outcome)
    except Exception as error:
        index.restore(state)
        log.exception("%s: cannot apply %s", candidate.source, candidate.key)
        outcome.errors += 1
        report_error(candidate.source, f"record {candidate.key}: {error!r}"[:1000], retryable=False,
                     ticker=candidate.ticker)


def _apply(todo: list[tuple], now, index: merge.DealIndex, outcome: Outcome) -> None:
    changes: list[StatusChange] = []
    new_ipos: dict[int, IPO] = {}  # provisional (negative) id → deal to insert
    targets: list[int | None] = []
    for candidate, record, _digest in todo:
        ipo_id = (record.ipo_id if record is not None else None) or index.find(candidate)
        if ipo_id is None and candidate.creates_ipo:
            ipo_id = -(len(new_ipos) + 1)
            ipo = IPO(company_name=candidate.company_name or candidate.ticker, ticker=candidate.ticker,
                      cik=candidate.cik, status=candidate.status or IPO.Status.FILED, sources=[candidate.source],
                      security_type=candidate.security_type or "", exchange=candidate.exchange or "",
                      expected_date=candidate.expected_date, listing_date=candidate.listing_date,
                      created_at=now)
            ipo.normalise()
            new_ipos[ipo_id] = ipo
            index.add(ipo_id, ipo.cik, ipo.ticker, ipo.name_key, candidate.security_type == "UNIT")
            changes.append(StatusChange(ipo=ipo, from_status="", to_status=ipo.status, source=candidate.source,
                                        note=f"first seen: {candidate.kind}"[:300], at=now))
        targets.append(ipo_id)
    if new_ipos:
        IPO.objects.bulk_create(list(new_ipos.values()), batch_size=500)
        real = {provisional: ipo.pk for provisional, ipo in new_ipos.items()}
        index.rename(real)
        targets = [real.get(ipo_id, ipo_id) for ipo_id in targets]
    new_ids = [ipo.pk for ipo in new_ipos.values()]

    created, changed = [], []
    for (candidate, record, digest), ipo_id in zip(todo, targets, strict=True):
        values = {"ipo_id": ipo_id, "kind": candidate.kind[:30], "raw": candidate.raw, "parsed": candidate.parsed(),
                  "content_hash": digest, "fetched_at": now,
                  "note": ("" if ipo_id else candidate.note or "matches no known deal")[:300]}
        if record is None:
            created.append(SourceRecord(source=candidate.source, key=candidate.key, first_seen=now, **values))
        else:
            for name, value in values.items():
                setattr(record, name, value)
            changed.append(record)
    SourceRecord.objects.bulk_create(created, batch_size=500)
    bulk_save(SourceRecord, changed, RECORD_FIELDS)

    ids = sorted({ipo_id for ipo_id in targets if ipo_id})
    if not ids:
        return
    ipos = IPO.objects.in_bulk(ids)
    records: dict[int, list[merge.RecordView]] = {pk: [] for pk in ids}
    conflicts: dict[int, dict] = {pk: {} for pk in ids}
    for chunk in range(0, len(ids), 500):
        for record in merge.record_views(SourceRecord.objects.filter(ipo_id__in=ids[chunk:chunk + 500])):
            records[record.ipo_id].append(record)
        for conflict in Conflict.objects.filter(ipo_id__in=ids[chunk:chunk + 500]):
            conflicts[conflict.ipo_id][conflict.field] = conflict
    before = {pk: [getattr(ipo, name) for name in MERGED_FIELDS] for pk, ipo in ipos.items()}
    fresh = set(new_ids)
    for (candidate, _record, _digest), ipo_id in zip(todo, targets, strict=True):
        if ipo_id and ipo_id not in fresh:
            merge.move_status(ipos[ipo_id], candidate.status, candidate.source, f"{candidate.kind} {candidate.key}",
                              changes, new_date=candidate.expected_date)
    dirty = []
    for ipo in ipos.values():
        merge.recompute(ipo, records[ipo.pk], conflicts[ipo.pk])
        enrich.enrich(ipo)
        ipo.normalise()
        index.remember(ipo)
        if [getattr(ipo, name) for name in MERGED_FIELDS] != before[ipo.pk]:
            ipo.updated_at = now
            dirty.append(ipo)
    bulk_save(IPO, dirty, MERGED_FIELDS)
    for change in changes:
        change.ipo_id = change.ipo.pk
    StatusChange.objects.bulk_create(changes, batch_size=500)
    if new_ids:
        publish_many("tickstock.ipo.detected", [detected_payload(ipos[pk]) for pk in new_ids])
    outcome.created += len(new_ids)
    outcome.touched.update(ids)


def bulk_save(model, objects: list, fields: list[str], batch_size: int = 200) -> None:
    """Save `fields` of many rows. On PostgreSQL one `UPDATE … FROM (VALUES …)` per batch (Django's bulk_update
    builds a CASE per field and row, slower than row by row); elsewhere row by row."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        for obj in objects:
            models.Model.save(obj, update_fields=fields)
        return
    columns = [model._meta.get_field(name) for name in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(c.column)} = v.{connection.ops.quote_name(c.column)}"
                            for c in columns)
    names = ", ".join(["id", *(connection.ops.quote_name(c.column) for c in columns)])
    row = "(" + ", ".join(["%s::bigint", *(f"%s::{c.db_type(connection)}" for c in columns)]) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            batch = objects[start:start + batch_size]
            params = []
            for obj in batch:
                params.append(obj.pk)
                params.extend(c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns)
            cursor.execute(f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(batch))}) "
                           f"AS v({names}) WHERE {table}.id = v.id", params)
