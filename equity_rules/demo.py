"""Demo universe for `make run`: a few dozen securities across the eight equity types (illustrative figures)."""

from datetime import date
from decimal import Decimal

from equity_rules.models import EquityType, Security

TECH_HEAVY = {"Information Technology": 31.5, "Financials": 12.9, "Health Care": 11.2, "Consumer Discretionary": 10.4,
              "Communication Services": 9.1, "Industrials": 8.4, "Consumer Staples": 5.8, "Energy": 3.4,
              "Utilities": 2.4, "Real Estate": 2.3, "Materials": 2.6}

# symbol, name, type, exchange, sector, aum, expense ratio %, nav, last close, average volume, shares, dividend
UNIVERSE = [
    ("SPY", "SPDR S&P 500 ETF Trust", "etf", "ARCX", "", 560e9, "0.0945", "598.10", "598.32", 62e6, 915e6, "7.05"),
    ("QQQ", "Invesco QQQ Trust", "etf", "XNAS", "", 320e9, "0.20", "515.44", "515.60", 38e6, 620e6, "3.10"),
    ("IVV", "iShares Core S&P 500 ETF", "etf", "ARCX", "", 520e9, "0.03", "601.02", "601.11", 5.1e6, 860e6, "7.20"),
    ("VTI", "Vanguard Total Stock Market ETF", "etf", "ARCX", "", 430e9, "0.03", "295.12", "295.20", 3.6e6,
     1.46e9, "3.60"),
    ("ARKK", "ARK Innovation ETF", "etf", "ARCX", "", 6.2e9, "0.75", "58.12", "58.30", 9.8e6, 107e6, None),
    ("TINY", "Tiny Thematic ETF", "etf", "ARCX", "", 21e6, "0.95", "24.80", "24.55", 14e3, 850e3, None),
    ("PRCY", "Pricey Active ETF", "etf", "XNAS", "", 140e6, "2.45", "31.00", "31.02", 180e3, 4.5e6, None),
    ("AAPL", "Apple Inc.", "common_stock", "XNAS", "Information Technology", None, None, None, "229.87", 52e6,
     15.1e9, "1.00"),
    ("MSFT", "Microsoft Corporation", "common_stock", "XNAS", "Information Technology", None, None, None, "415.50",
     21e6, 7.43e9, "3.32"),
    ("NVDA", "NVIDIA Corporation", "common_stock", "XNAS", "Information Technology", None, None, None, "138.25",
     240e6, 24.5e9, "0.04"),
    ("JPM", "JPMorgan Chase & Co.", "common_stock", "XNYS", "Financials", None, None, None, "242.10", 9.1e6,
     2.82e9, "5.00"),
    ("XOM", "Exxon Mobil Corporation", "common_stock", "XNYS", "Energy", None, None, None, "118.40", 15e6,
     4.4e9, "3.88"),
    ("PNYX", "Penny Exploration Corp.", "common_stock", "XASE", "Materials", None, None, None, "0.62", 31e3,
     40e6, None),
    ("TSM", "Taiwan Semiconductor Manufacturing ADR", "adr", "XNYS", "Information Technology", None, None, None,
     "192.30", 14e6, 5.19e9, "2.20"),
    ("BABA", "Alibaba Group Holding ADR", "adr", "XNYS", "Consumer Discretionary", None, None, None, "86.10",
     17e6, 2.4e9, "1.00"),
    ("NVO", "Novo Nordisk ADR", "adr", "XNYS", "Health Care", None, None, None, "104.70", 6e6, 4.4e9, "1.50"),
    ("SONY", "Sony Group ADR", "adr", "XNYS", "Consumer Discretionary", None, None, None, "21.40", 4.2e6,
     6.1e9, "0.10"),
    ("O", "Realty Income Corporation", "reit", "XNYS", "Real Estate", None, None, None, "56.90", 5.3e6, 875e6,
     "3.16"),
    ("PLD", "Prologis, Inc.", "reit", "XNYS", "Real Estate", None, None, None, "117.60", 3.9e6, 926e6, "3.84"),
    ("SPG", "Simon Property Group", "reit", "XNYS", "Real Estate", None, None, None, "177.20", 1.4e6, 326e6,
     "8.20"),
    ("AMT", "American Tower Corporation", "reit", "XNYS", "Real Estate", None, None, None, "201.80", 2.6e6,
     467e6, "6.48"),
    ("JPM-PD", "JPMorgan Chase 5.75% Series DD Preferred", "preferred", "XNYS", "Financials", None, None, None,
     "25.12", 95e3, 169e6, "1.4375"),
    ("BAC-PL", "Bank of America 7.25% Series L Preferred", "preferred", "XNYS", "Financials", None, None, None,
     "1221.00", 6e3, 3.08e6, "72.50"),
    ("WFC-PY", "Wells Fargo 5.625% Series Y Preferred", "preferred", "XNYS", "Financials", None, None, None,
     "23.80", 41e3, 27.6e6, "1.40625"),
    ("PDI", "PIMCO Dynamic Income Fund", "closed_end_fund", "XNYS", "", 6.1e9, "2.10", "18.40", "19.60", 1.9e6,
     300e6, "2.65"),
    ("ADX", "Adams Diversified Equity Fund", "closed_end_fund", "XNYS", "", 2.7e9, "0.60", "24.10", "21.20",
     170e3, 116e6, "1.90"),
    ("GOF", "Guggenheim Strategic Opportunities Fund", "closed_end_fund", "XNYS", "", 2.2e9, "2.80", "10.90",
     "15.20", 1.3e6, 140e6, "2.19"),
    ("UTF", "Cohen & Steers Infrastructure Fund", "closed_end_fund", "XNYS", "", 2.4e9, "2.20", "24.00", "23.60",
     140e3, 95e6, "1.86"),
    ("DKNG.WS", "DraftKings Warrants (illustrative)", "warrant", "XNAS", "Consumer Discretionary", None, None,
     None, "12.40", 210e3, 18e6, None),
    ("OPAL.WS", "OPAL Fuels Warrants (illustrative)", "warrant", "XNAS", "Utilities", None, None, None, "0.008",
     400, 12e6, None),
    ("GSRTU", "GSR III Acquisition Corp. Units", "unit", "XNAS", "Financials", None, None, None, "10.12", 2.1e3,
     23e6, None),
    ("CCIXU", "Churchill Capital Corp IX Units", "unit", "XNAS", "Financials", None, None, None, "10.64", 15e3,
     28.75e6, None),
    ("FLDDU", "Fold-Down Acquisition Units", "unit", "XNAS", "Financials", None, None, None, "4.80", 600, 8e6,
     None),
]


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def load() -> None:
    types = {equity_type.equity_type: equity_type for equity_type in EquityType.objects.all()}
    for (symbol, name, kind, exchange, sector, aum, expense_ratio, nav, last_close, volume, shares,
         dividend) in UNIVERSE:
        Security.objects.update_or_create(symbol=symbol, defaults={
            "name": name, "equity_type": types[kind], "exchange": exchange, "sector": sector,
            "aum": _decimal(aum), "expense_ratio": _decimal(expense_ratio), "nav": _decimal(nav),
            "last_close": _decimal(last_close), "average_volume": _decimal(volume),
            "shares_outstanding": int(shares), "dividend_per_share": _decimal(dividend),
            "sector_weights": TECH_HEAVY if kind == "etf" else {},
            "listing_date": date(2021, 3, 1) if kind in {"unit", "warrant"} else None,
        })
