"""Applying an equity type's rules to a security, one claimed batch of jobs at a time.

Rules are read after the claim commits, so a rule change committed before a claim applies to every job in
it: workers never hold rules across batches.
"""

import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from equity_rules import queue, schemas
from equity_rules.models import EquityType, ProcessingJob, ProcessingResult, Security
from tickstock_ops import slo
from tickstock_ops.events import publish_many


@dataclass(frozen=True)
class ResolvedRules:
    equity_type: str
    version: int
    processing_rules: dict
    retry_config: dict
    problems: tuple[str, ...] = ()


@dataclass
class Evaluation:
    passed: bool
    reasons: list[str]
    enrichments: dict


@dataclass
class BatchReport:
    claimed: int = 0
    processed: int = 0
    retried: int = 0
    dead: int = 0
    lost_lease: int = 0
    versions: dict[str, int] = field(default_factory=dict)


class JobError(Exception):
    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def resolve(type_ids: set[int]) -> dict[int, ResolvedRules]:
    """The committed rules of these equity types right now, each checked against its schema."""
    resolved = {}
    for row in EquityType.objects.filter(id__in=type_ids).values(
            "id", "equity_type", "version", "processing_rules", "retry_config"):
        problems = tuple(schemas.errors("processing_rules", row["processing_rules"])
                         + schemas.errors("retry_config", row["retry_config"]))
        resolved[row["id"]] = ResolvedRules(row["equity_type"], row["version"], row["processing_rules"],
                                            row["retry_config"], problems)
    return resolved


def evaluate(security: Security, processing_rules: dict, today: date | None = None) -> Evaluation:
    """Validation rules (pass/fail, with a reason per failure) and the enrichments the rules ask for."""
    today = today or timezone.localdate()
    market_cap = _product(security.last_close, security.shares_outstanding)
    reasons = []
    enrichments: dict = {}
    flags = processing_rules.get("enrichment", {})
    nav = security.nav
    if flags.get("nav_calculation"):
        if nav is None and security.aum is not None and security.shares_outstanding:
            nav = Decimal(security.aum) / Decimal(security.shares_outstanding)
            enrichments["nav_source"] = "aum / shares_outstanding"
        elif nav is not None:
            enrichments["nav_source"] = "reported"
        enrichments["nav"] = _round(nav, 4)
    premium = None
    if nav and security.last_close is not None:
        premium = (Decimal(security.last_close) - Decimal(nav)) / Decimal(nav) * 100
    if flags.get("premium_discount"):
        enrichments["premium_discount_pct"] = _round(premium, 4)
    if flags.get("sector_allocation"):
        enrichments["sector_allocation"] = _sector_allocation(security)
    if flags.get("market_cap"):
        enrichments["market_cap"] = _round(market_cap, 0)
    if flags.get("liquidity_tier"):
        enrichments["liquidity_tier"] = _liquidity_tier(security)
    if flags.get("dividend_yield"):
        enrichments["dividend_yield_pct"] = (
            _round(Decimal(security.dividend_per_share) / Decimal(security.last_close) * 100, 4)
            if security.dividend_per_share is not None and security.last_close else None)

    checks = processing_rules.get("validation_rules", {})
    if "aum_minimum" in checks:
        _at_least(reasons, "aum", security.aum, checks["aum_minimum"], "aum_minimum")
    if "volume_threshold" in checks:
        _at_least(reasons, "average_volume", security.average_volume, checks["volume_threshold"],
                  "volume_threshold")
    if "expense_ratio_max" in checks:
        if security.expense_ratio is None:
            reasons.append(f"expense_ratio unknown (expense_ratio_max {checks['expense_ratio_max']})")
        elif security.expense_ratio > Decimal(str(checks["expense_ratio_max"])):
            reasons.append(f"expense_ratio {security.expense_ratio} > expense_ratio_max {checks['expense_ratio_max']}")
    if "market_cap_minimum" in checks:
        _at_least(reasons, "market_cap", market_cap, checks["market_cap_minimum"], "market_cap_minimum")
    if "price_minimum" in checks:
        _at_least(reasons, "last_close", security.last_close, checks["price_minimum"], "price_minimum")
    if "premium_discount_max_pct" in checks:
        limit = checks["premium_discount_max_pct"]
        if premium is None:
            reasons.append(f"premium/discount unknown: needs NAV and last close (premium_discount_max_pct {limit})")
        elif abs(premium) > Decimal(str(limit)):
            reasons.append(f"premium/discount {premium:.2f}% beyond ±{limit}% (premium_discount_max_pct)")
    if "min_days_listed" in checks:
        if security.listing_date is None:
            reasons.append(f"listing_date unknown (min_days_listed {checks['min_days_listed']})")
        elif (today - security.listing_date).days < checks["min_days_listed"]:
            reasons.append(f"listed {(today - security.listing_date).days} days < min_days_listed "
                           f"{checks['min_days_listed']}")
    return Evaluation(passed=not reasons, reasons=reasons, enrichments=enrichments)


def _at_least(reasons: list[str], name: str, value, minimum, rule: str) -> None:
    if value is None:
        reasons.append(f"{name} unknown ({rule} {minimum})")
    elif Decimal(value) < Decimal(str(minimum)):
        reasons.append(f"{name} {Decimal(value).normalize():f} < {rule} {minimum}")


def _product(a, b) -> Decimal | None:
    return Decimal(a) * Decimal(b) if a is not None and b is not None else None


def _round(value, places: int) -> float | None:
    return None if value is None else round(float(value), places)


def _sector_allocation(security: Security) -> dict[str, float]:
    weights = {str(k): float(v) for k, v in (security.sector_weights or {}).items() if float(v) > 0}
    if not weights:
        return {security.sector: 100.0} if security.sector else {}
    total = sum(weights.values())
    return {name: round(weight / total * 100, 2) for name, weight in
            sorted(weights.items(), key=lambda item: -item[1])}


def _liquidity_tier(security: Security) -> str | None:
    dollar_volume = _product(security.average_volume, security.last_close)
    if dollar_volume is None:
        return None
    if dollar_volume >= 50_000_000:
        return "high"
    return "medium" if dollar_volume >= 5_000_000 else "low"


def run_batch(worker: str, *, limit: int | None = None, lease_seconds: float | None = None) -> BatchReport:
    """Claim a batch, apply the current rules to each job, then commit the outcomes the worker still owns.

    A job's processing time runs from the claim to its outcome, so it includes waiting for the jobs before it
    in the batch; the batch's single commit follows."""
    started = time.perf_counter()
    jobs = queue.claim(worker, limit=limit, lease_seconds=lease_seconds)
    report = BatchReport(claimed=len(jobs))
    if not jobs:
        return report
    rules = resolve({job.equity_type_id for job in jobs})
    securities = Security.objects.in_bulk([job.security_id for job in jobs if job.security_id])
    outcomes = []
    for job in jobs:
        resolved = rules[job.equity_type_id]
        try:
            evaluation = _apply(job, securities.get(job.security_id), resolved)
        except JobError as error:
            evaluation = error
        outcomes.append((job, resolved, evaluation, round((time.perf_counter() - started) * 1000, 3)))
        report.versions[resolved.equity_type] = resolved.version
    _commit(worker, outcomes, report)
    return report


def _apply(job: ProcessingJob, security: Security | None, resolved: ResolvedRules) -> Evaluation:
    if security is None:
        raise JobError(f"security {job.symbol} was deleted after this job was queued; nothing to process",
                       retryable=False)
    if resolved.problems:
        raise JobError(f"rules of {resolved.equity_type} version {resolved.version} are invalid: "
                       + "; ".join(resolved.problems))
    if security.equity_type_id != job.equity_type_id:
        raise JobError(f"{job.symbol} is no longer a {resolved.equity_type}; the job was queued under that type",
                       retryable=False)
    return evaluate(security, resolved.processing_rules)


def _observe_rule_updates(outcomes: list) -> None:
    """Service level: a rules version's commit (or the job's due time, if later) to the first job run under it."""
    first_jobs = {}
    for job, resolved, *_ in outcomes:
        if resolved.version > 1:
            first_jobs.setdefault((job.equity_type_id, resolved.equity_type, resolved.version), job)
    delays, now = [], timezone.now()
    for (type_id, name, version), job in first_jobs.items():
        if ProcessingResult.objects.filter(equity_type=name, rules_version=version).exists():
            continue
        committed = EquityType.history.filter(id=type_id, version=version).order_by("history_date").values_list(
            "history_date", flat=True).first()
        if committed is not None:
            delays.append((now - max(committed, job.scheduled_at)).total_seconds())
    slo.observe_many("rule_update_delay", delays)


def _commit(worker: str, outcomes: list, report: BatchReport) -> None:
    with transaction.atomic():
        held = {job.id for job in queue.owned([job for job, *_ in outcomes])}
        report.lost_lease = len(outcomes) - len(held)
        outcomes = [outcome for outcome in outcomes if outcome[0].id in held]
        results, done, processed, failed_events = [], [], [], []
        for job, resolved, evaluation, duration_ms in outcomes:
            failed = isinstance(evaluation, JobError)
            results.append(ProcessingResult(
                job=job, security_id=job.security_id, symbol=job.symbol, equity_type=resolved.equity_type,
                rules_version=resolved.version, attempt=job.attempts, succeeded=not failed,
                passed=None if failed else evaluation.passed, reasons=[] if failed else evaluation.reasons,
                enrichments={} if failed else evaluation.enrichments, error=str(evaluation) if failed else "",
                duration_ms=duration_ms, worker=worker[:100],
            ))
            payload = {"symbol": job.symbol, "equity_type": resolved.equity_type, "rules_version": resolved.version,
                       "attempts": job.attempts, "duration_ms": duration_ms, "job_id": job.id}
            if not failed:
                done.append(job)
                report.processed += 1
                processed.append({**payload, "error": None, "passed": evaluation.passed,
                                  "reasons": evaluation.reasons, "enrichments": evaluation.enrichments})
            elif queue.mark_failed(job, str(evaluation), resolved.retry_config, retryable=evaluation.retryable):
                report.dead += 1
                failed_events.append(queue.failed_payload(job, resolved.equity_type, resolved.version,
                                                          str(evaluation), duration_ms))
            else:
                report.retried += 1
        queue.mark_done(done)
        _observe_rule_updates(outcomes)
        ProcessingResult.objects.bulk_create(results)
        for event_type, payloads in (("tickstock.equity.processed", processed),
                                     ("tickstock.equity.failed", failed_events)):
            if payloads:
                publish_many(event_type, payloads)
