"""The one writer of IPO deals, their source records and their status moves, and of the events those cause.

Scans hand it candidates (`apply_candidates`), the trading check a deal's first sessions (`record_first_sessions`),
the admin an operator's edits (`apply_manual_edit`). Each write re-merges the deal from its records and enriches
it (`merge_and_enrich`), in the caller's transaction."""

import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from monitors.ipo import enrich, merge
from monitors.ipo.bulk import bulk_save, chunks
from monitors.ipo.models import IPO, Conflict, SourceRecord, StatusChange
from monitors.ipo.sources.record import Candidate
from tickstock_ops import alerts, slo
from tickstock_ops.events import publish, publish_many

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    touched: set[int] = field(default_factory=set)
    created: int = 0
    errors: int = 0


def detected_payload(ipo: IPO) -> dict:
    date_ = ipo.listing_date or ipo.expected_date
    return {"ticker": ipo.ticker, "cik": ipo.cik, "company_name": ipo.company_name, "exchange": ipo.exchange or None,
            "expected_date": date_.isoformat() if date_ else None, "status": ipo.status, "sources": list(ipo.sources)}


def report_error(source: str, error: str, *, retryable: bool, ticker: str | None = None,
                 alert: bool = False) -> None:
    """`tickstock.ipo.error` (and, for a whole source failing, an alert). Call inside a transaction."""
    publish("tickstock.ipo.error", {"source": source, "ticker": ticker, "error": error, "retryable": retryable})
    if alert:
        alerts.fire(f"ipo:source:{source}", source="ipo", title=f"IPO source {source} failed: {error}"[:300],
                    severity="warning" if retryable else "critical", labels={"source": source})


def move_status(ipo: IPO, new: str | None, source: str, note: str = "",
                changes: list[StatusChange] | None = None, new_date=None) -> bool:
    """Apply a status a source reported, if the lifecycle allows it; record the change (saved now, or added to
    `changes` for the caller to save in bulk). True if it moved.

    A postponed deal only becomes expected again with a date later than the one it had: a source still listing
    the old date has simply not caught up."""
    current = ipo.status
    if not new or new == current or not merge.allowed(current, new):
        return False
    if current == IPO.Status.POSTPONED and new == IPO.Status.EXPECTED and not (
            new_date and (ipo.expected_date is None or new_date > ipo.expected_date)):
        return False
    ipo.status = new
    change = StatusChange(ipo=ipo, from_status=current, to_status=new, source=source, note=note[:300])
    if changes is None:
        change.save()
    else:
        changes.append(change)
    return True


def merge_and_enrich(ipo: IPO, records: list[merge.RecordView] | None = None,
                     conflicts: dict[str, Conflict] | None = None) -> None:
    """Set the deal's merged fields from its records, then its derived ones (sector, market cap, eligibility,
    validation). Not saved."""
    merge.recompute(ipo, records, conflicts)
    enrich.enrich(ipo)
    ipo.normalise()


def remerge(ipo: IPO) -> None:
    """Merge, enrich and save one deal after a change to its records. The `validated` event follows at the end
    of the run (`announce_validated`), once per deal, however many sources it merged."""
    merge_and_enrich(ipo)
    ipo.save()


def store_record(ipo: IPO, candidate: Candidate) -> None:
    """Keep what a source said about a known deal (Polygon's ticker details: SIC, CIK, description, shares)."""
    SourceRecord.objects.update_or_create(
        source=candidate.source, key=candidate.key,
        defaults={"ipo": ipo, "kind": candidate.kind[:30], "raw": candidate.raw, "parsed": candidate.parsed(),
                  "content_hash": merge.content_hash(candidate), "fetched_at": timezone.now()})


def record_first_sessions(ipo_id: int, first_day: date, first_open: Decimal | None, volumes: list[int],
                          details: Candidate | None = None) -> tuple[IPO, bool]:
    """What the trading check saw: the deal's first sessions (the first one moves it to trading, with one
    `trading_active`) and, when fetched, its ticker details. Returns (the deal, whether it started now)."""
    ipo = IPO.objects.select_for_update().get(pk=ipo_id)
    if details is not None:
        store_record(ipo, details)
    ipo.first_trade_date, ipo.first_trade_open, ipo.first_day_volume = first_day, first_open, volumes[0]
    ipo.first_days_volumes = volumes
    if ipo.listing_date is None:
        ipo.listing_date = first_day
    started = move_status(ipo, IPO.Status.TRADING, "polygon", f"first bar {first_day}")
    remerge(ipo)
    if started:
        publish("tickstock.ipo.trading_active", {
            "ticker": ipo.ticker, "listing_date": first_day.isoformat(),
            "open_price": float(first_open) if first_open is not None else None, "first_day_volume": volumes[0]})
    return ipo, started


def mark_trading_checked(ipos: list[IPO], day: date) -> None:
    """The trading check found nothing new for these deals in the bars up to `day` (a past, complete day):
    checking them again as of that day would find nothing either."""
    for ipo in ipos:
        ipo.trading_checked = {"ticker": ipo.ticker, "through": day.isoformat()}
    IPO.objects.bulk_update(ipos, ["trading_checked"], batch_size=500)


def apply_manual_edit(ipo: IPO, edits: dict, user: str, *, status_set: bool) -> None:
    """Keep an operator's edits of merged fields as the deal's `manual` record, so that every later merge keeps
    them (they win over every source; an emptied field goes back to the sources), and a status they set in the
    history. Then re-merge and re-enrich."""
    with transaction.atomic():
        record, _ = SourceRecord.objects.get_or_create(
            source=merge.MANUAL, key=f"ipo:{ipo.pk}", defaults={"ipo": ipo, "raw": {}, "content_hash": ""})
        probe = Candidate(source=merge.MANUAL, key=record.key, raw={}, **edits)
        parsed = {**record.parsed, **probe.parsed()}
        for name, value in edits.items():
            if value in (None, ""):
                parsed.pop(name, None)
        record.parsed, record.raw = parsed, {"edited_by": user, "fields": parsed}
        record.fetched_at = timezone.now()
        record.save()
        if status_set:
            previous = ipo.status_changes.last()
            StatusChange.objects.create(ipo=ipo, from_status=previous.to_status if previous else "",
                                        to_status=ipo.status, source="admin", note=f"set by {user}"[:300])
        remerge(ipo)
    announce_validated([ipo.pk])


def announce_validated(ipo_ids) -> int:
    """`tickstock.ipo.validated` for each deal that passes and whose announced values changed since the last
    time (so a re-scan that changes nothing announces nothing). Returns how many were announced."""
    fresh, payloads = [], []
    for chunk in chunks(sorted(set(ipo_ids))):
        for ipo in IPO.objects.filter(pk__in=chunk).order_by("pk"):
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
        todo, unchanged = _changed_candidates(candidates, index, outcome)
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


def _changed_candidates(candidates: list[Candidate], index: merge.DealIndex, outcome: Outcome):
    """([(candidate, its stored record or None, content hash)] to write, [pks of records unchanged])."""
    existing = _existing_records(candidates)
    latest: dict[tuple[str, str], tuple] = {}
    unchanged = []
    for candidate in candidates:
        record = existing.get((candidate.source, candidate.key))
        digest = merge.content_hash(candidate)
        if record is not None and record.content_hash == digest and (record.ipo_id or index.find(candidate) is None):
            unchanged.append(record.pk)
            if record.ipo_id:
                outcome.touched.add(record.ipo_id)
            continue
        latest[(candidate.source, candidate.key)] = (candidate, record, digest)
    return list(latest.values()), unchanged


def _existing_records(candidates: list[Candidate]) -> dict[tuple[str, str], SourceRecord]:
    keys_by_source: dict[str, list[str]] = {}
    for candidate in candidates:
        keys_by_source.setdefault(candidate.source, []).append(candidate.key)
    existing = {}
    for source, keys in keys_by_source.items():
        for chunk in chunks(keys):
            for record in SourceRecord.objects.filter(source=source, key__in=chunk).only(
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
    """The pipeline for a batch: match each candidate to a deal (creating new deals), keep the records, load the
    deals with all their records, move their statuses, re-merge and enrich them, save what changed, announce
    the new deals."""
    changes: list[StatusChange] = []
    targets, new_ids = _match_or_create(todo, now, index, changes)
    _write_records(todo, targets, now)
    ids = sorted({ipo_id for ipo_id in targets if ipo_id})
    if not ids:
        return
    ipos, records, conflicts = _load_deals(ids)
    before = {pk: _merged_values(ipo) for pk, ipo in ipos.items()}
    fresh = set(new_ids)
    for (candidate, _record, _digest), ipo_id in zip(todo, targets, strict=True):
        if ipo_id and ipo_id not in fresh:
            move_status(ipos[ipo_id], candidate.status, candidate.source, f"{candidate.kind} {candidate.key}",
                        changes, new_date=candidate.expected_date)
    _remerge_deals(ipos, records, conflicts, before, index, now)
    for change in changes:
        change.ipo_id = change.ipo.pk
    StatusChange.objects.bulk_create(changes, batch_size=500)
    if new_ids:
        publish_many("tickstock.ipo.detected", [detected_payload(ipos[pk]) for pk in new_ids])
        _observe_detection(new_ids)
    outcome.created += len(new_ids)
    outcome.touched.update(ids)


def _match_or_create(todo: list[tuple], now, index: merge.DealIndex,
                     changes: list[StatusChange]) -> tuple[list[int | None], list[int]]:
    """The deal each candidate belongs to (None: none, and it may not create one), and the ids of the deals
    created for candidates that may create one."""
    new_ipos: dict[int, IPO] = {}  # provisional (negative) id → deal to insert
    targets: list[int | None] = []
    for candidate, record, _digest in todo:
        ipo_id = (record.ipo_id if record is not None else None) or index.find(candidate)
        if ipo_id is None and candidate.creates_ipo:
            ipo_id = -(len(new_ipos) + 1)
            ipo = IPO(company_name=candidate.company_name or candidate.ticker, ticker=candidate.ticker,
                      cik=candidate.cik, status=candidate.status or IPO.Status.FILED, sources=[candidate.source],
                      security_type=candidate.security_type or "", exchange=candidate.exchange or "",
                      expected_date=candidate.expected_date, listing_date=candidate.listing_date, created_at=now)
            ipo.normalise()
            new_ipos[ipo_id] = ipo
            index.add(ipo_id, ipo.cik, ipo.ticker, ipo.name_key, candidate.security_type == "UNIT")
            changes.append(StatusChange(ipo=ipo, from_status="", to_status=ipo.status, source=candidate.source,
                                        note=f"first seen: {candidate.kind}"[:300], at=now))
        targets.append(ipo_id)
    if not new_ipos:
        return targets, []
    IPO.objects.bulk_create(list(new_ipos.values()), batch_size=500)
    real = {provisional: ipo.pk for provisional, ipo in new_ipos.items()}
    index.rename(real)
    return [real.get(ipo_id, ipo_id) for ipo_id in targets], list(real.values())


def _write_records(todo: list[tuple], targets: list[int | None], now) -> None:
    created, changed = [], []
    for (candidate, record, digest), ipo_id in zip(todo, targets, strict=True):
        values = {"ipo_id": ipo_id, "kind": candidate.kind[:30], "raw": candidate.raw, "parsed": candidate.parsed(),
                  "content_hash": digest, "fetched_at": now,
                  "note": _record_note(candidate, ipo_id)}
        if record is None:
            created.append(SourceRecord(source=candidate.source, key=candidate.key, first_seen=now, **values))
        else:
            for name, value in values.items():
                setattr(record, name, value)
            changed.append(record)
    SourceRecord.objects.bulk_create(created, batch_size=500)
    bulk_save(SourceRecord, changed, RECORD_FIELDS)


def _record_note(candidate: Candidate, ipo_id: int | None) -> str:
    if candidate.follow_on:
        return candidate.note[:300]
    return ("" if ipo_id else candidate.note or "matches no known deal")[:300]


def _load_deals(ids: list[int]) -> tuple[dict[int, IPO], dict[int, list], dict[int, dict]]:
    """The deals, each with all its records and conflicts (by field), loaded in bulk."""
    ipos = IPO.objects.in_bulk(ids)
    records: dict[int, list[merge.RecordView]] = {pk: [] for pk in ids}
    conflicts: dict[int, dict] = {pk: {} for pk in ids}
    for chunk in chunks(ids):
        for record in merge.record_views(SourceRecord.objects.filter(ipo_id__in=chunk)):
            records[record.ipo_id].append(record)
        for conflict in Conflict.objects.filter(ipo_id__in=chunk):
            conflicts[conflict.ipo_id][conflict.field] = conflict
    return ipos, records, conflicts


def _merged_values(ipo: IPO) -> list:
    return [getattr(ipo, name) for name in MERGED_FIELDS]


def _remerge_deals(ipos: dict[int, IPO], records: dict, conflicts: dict, before: dict, index: merge.DealIndex,
                   now) -> None:
    """Merge and enrich each deal; save those whose merged fields changed since `before`."""
    dirty = []
    for ipo in ipos.values():
        merge_and_enrich(ipo, records[ipo.pk], conflicts[ipo.pk])
        index.remember(ipo)
        if _merged_values(ipo) != before[ipo.pk]:
            ipo.updated_at = now
            dirty.append(ipo)
    bulk_save(IPO, dirty, MERGED_FIELDS)


def _observe_detection(new_ids: list[int]) -> None:
    """Service level: the first fetch of a record showing the deal (the sources publish dates, not times) to the
    `detected` event's commit."""
    first = SourceRecord.objects.filter(ipo_id__in=new_ids).values("ipo_id").annotate(at=Min("first_seen"))
    detected = timezone.now()
    slo.observe_many("ipo_detection_delay", [(detected - row["at"]).total_seconds() for row in first])
