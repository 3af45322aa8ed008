"""Enrichment and validation of a merged IPO: sector, SPAC flag, market-cap estimate, eligibility."""

import hashlib
import json
from decimal import Decimal

from monitors.ipo import conf, sectors
from monitors.ipo.models import IPO

EQUITY_TYPES = {"CS": "common_stock", "ORD": "common_stock", "ADRC": "adr", "ADR": "adr", "ADS": "adr",
                "UNIT": "unit", "WARRANT": "warrant", "WRT": "warrant", "RIGHT": "right", "PFD": "preferred",
                "ETF": "etf", "FUND": "closed_end_fund"}
TRADABLE_TYPES = {"common_stock", "adr", "reit"}
MICS = {"XNAS", "XNYS", "XASE", "ARCX", "BATS"}
SPAC_UNIT_PRICE = Decimal("10")


def equity_type(ipo: IPO) -> str:
    """The rules engine's equity-type key for this IPO's security."""
    if ipo.security_type:
        key = EQUITY_TYPES.get(ipo.security_type.upper(), "common_stock")
    elif ipo.is_spac or (ipo.ticker and ipo.ticker.endswith("U") and ipo.offer_price == SPAC_UNIT_PRICE):
        key = "unit"
    else:
        key = "common_stock"
    if key == "common_stock" and ipo.sic_code == "6798":
        return "reit"
    return key


def classify_sector(ipo: IPO) -> None:
    ipo.is_spac = ipo.is_spac or sectors.is_spac_sic(ipo.sic_code) or (
        ipo.security_type == "UNIT" and ipo.offer_price == SPAC_UNIT_PRICE)
    by_sic = sectors.sector_for_sic(ipo.sic_code) if ipo.sic_code else None
    if by_sic:
        ipo.sector, ipo.sector_method = by_sic, IPO.SectorMethod.SIC
        ipo.sector_reason = f"SIC {ipo.sic_code}" + (" (blank check: SPAC)" if sectors.is_spac_sic(ipo.sic_code)
                                                      else "")
        return
    sector, why = sectors.sector_from_description(ipo.description)
    if sector:
        ipo.sector, ipo.sector_method, ipo.sector_reason = sector, IPO.SectorMethod.DESCRIPTION, why[:200]
        return
    ipo.sector, ipo.sector_method = None, IPO.SectorMethod.NONE
    no_sic = f"SIC {ipo.sic_code} is not in the sector table" if ipo.sic_code else "no SIC code"
    ipo.sector_reason = f"{no_sic}; {why}"[:200]


def estimate_market_cap(ipo: IPO) -> None:
    """Shares outstanding × the opening price once trading, × the offer price (or range midpoint) before."""
    price, basis = None, ""
    if ipo.first_trade_open is not None:
        price, basis = ipo.first_trade_open, "first opening price"
    elif ipo.offer_price is not None:
        price, basis = ipo.offer_price, "offer price"
    elif ipo.price_low is not None and ipo.price_high is not None:
        price, basis = (ipo.price_low + ipo.price_high) / 2, "offer range midpoint"
    if price is None or not ipo.shares_outstanding:
        ipo.market_cap_estimate = None
        ipo.market_cap_basis = "no shares outstanding" if price is not None else "no price yet"
        return
    ipo.market_cap_estimate = (Decimal(ipo.shares_outstanding) * price).quantize(Decimal("0.01"))
    ipo.market_cap_basis = f"shares outstanding × {basis}"


def judge_eligibility(ipo: IPO) -> None:
    key = equity_type(ipo)
    if ipo.status != IPO.Status.TRADING:
        ipo.eligible, ipo.eligibility_reason = False, f"status {ipo.status}: not trading yet"
    elif key not in TRADABLE_TYPES:
        ipo.eligible, ipo.eligibility_reason = False, f"security type {key} is not eligible"
    elif not ipo.first_days_volumes:
        ipo.eligible, ipo.eligibility_reason = False, "no trading volume yet"
    else:
        average = sum(ipo.first_days_volumes) / len(ipo.first_days_volumes)
        threshold = conf.volume_threshold(key)
        days = len(ipo.first_days_volumes)
        ipo.eligible = average >= threshold
        comparison = "≥" if ipo.eligible else "<"
        ipo.eligibility_reason = (f"average volume {average:,.0f} over {days} session(s) {comparison} "
                                  f"{key} threshold {threshold:,}")


def validation_errors(ipo: IPO) -> list[str]:
    errors = []
    if not ipo.ticker:
        errors.append("no ticker yet")
    if not ipo.company_name:
        errors.append("no company name")
    if ipo.exchange not in MICS:
        errors.append(f"exchange {ipo.exchange!r} is not a known MIC" if ipo.exchange else "no exchange")
    if not (ipo.listing_date or ipo.expected_date):
        errors.append("no expected or listing date")
    if ipo.status in (IPO.Status.WITHDRAWN, IPO.Status.POSTPONED):
        errors.append(f"deal {ipo.status}")
    for low, high in ((ipo.price_low, ipo.price_high),):
        if low is not None and high is not None and low > high:
            errors.append(f"offer range {low}–{high} is inverted")
    if ipo.offer_price is not None and ipo.offer_price <= 0:
        errors.append(f"offer price {ipo.offer_price} is not positive")
    return errors


def enrich(ipo: IPO) -> None:
    classify_sector(ipo)
    estimate_market_cap(ipo)
    judge_eligibility(ipo)
    ipo.validation_errors = validation_errors(ipo)


def validated_payload(ipo: IPO) -> dict:
    """`tickstock.ipo.validated` (docs/events.md)."""
    contract = ipo.as_contract()
    return {
        "ticker": ipo.ticker, "cik": ipo.cik, "company_name": ipo.company_name, "exchange": ipo.exchange,
        "listing_date": contract["listing_date"], "status": ipo.status, "sector": ipo.sector,
        "sic_code": ipo.sic_code or None, "offer_price": contract["offer_price"],
        "shares_outstanding": ipo.shares_outstanding, "market_cap_estimate": contract["market_cap_estimate"],
        "eligible": ipo.eligible,
    }


def fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
