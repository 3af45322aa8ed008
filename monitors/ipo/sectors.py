"""SIC code → the 11 GICS-style sectors, and a keyword fallback from the business description.

There is no official SIC→GICS crosswalk. The ranges follow SEC's SIC divisions, narrowest first: the first
range that holds the code decides.
"""

import re

HEALTH = "Health Care"
TECH = "Information Technology"
COMMS = "Communication Services"
FINANCIALS = "Financials"
REAL_ESTATE = "Real Estate"
UTILITIES = "Utilities"
ENERGY = "Energy"
MATERIALS = "Materials"
STAPLES = "Consumer Staples"
DISCRETIONARY = "Consumer Discretionary"
INDUSTRIALS = "Industrials"
SECTORS = (HEALTH, TECH, COMMS, FINANCIALS, REAL_ESTATE, UTILITIES, ENERGY, MATERIALS, STAPLES, DISCRETIONARY,
           INDUSTRIALS)

SPAC_SIC = 6770

SIC_RANGES: list[tuple[int, int, str]] = [
    (6770, 6770, FINANCIALS),  # blank checks: SPACs
    (6798, 6798, REAL_ESTATE),  # REITs
    (2833, 2836, HEALTH),
    (3840, 3851, HEALTH),
    (8000, 8099, HEALTH),
    (3570, 3579, TECH),
    (3660, 3679, TECH),
    (7370, 7379, TECH),
    (3810, 3839, TECH),  # instruments, navigation, measuring
    (4810, 4899, COMMS),
    (2710, 2741, COMMS),
    (7810, 7841, COMMS),
    (4900, 4949, UTILITIES),
    (4991, 4991, UTILITIES),
    (1200, 1389, ENERGY),
    (2900, 2999, ENERGY),
    (6500, 6599, REAL_ESTATE),
    (6000, 6499, FINANCIALS),
    (6700, 6799, FINANCIALS),
    (1000, 1499, MATERIALS),
    (2600, 2699, MATERIALS),
    (2800, 2829, MATERIALS),
    (3200, 3399, MATERIALS),
    (2400, 2499, MATERIALS),  # lumber and wood
    (100, 999, STAPLES),  # agriculture, forestry, fishing
    (2000, 2199, STAPLES),
    (5400, 5499, STAPLES),
    (2840, 2844, STAPLES),  # soaps, cosmetics
    (3711, 3716, DISCRETIONARY),
    (7000, 7099, DISCRETIONARY),
    (7900, 7999, DISCRETIONARY),
    (5200, 5999, DISCRETIONARY),
    (2200, 2399, DISCRETIONARY),  # textiles, apparel
    (2500, 2599, DISCRETIONARY),  # furniture
    (3100, 3199, DISCRETIONARY),  # leather, footwear
    (3630, 3659, DISCRETIONARY),  # household appliances, audio and video equipment
    (8200, 8299, DISCRETIONARY),  # education
    (1500, 1799, INDUSTRIALS),
    (3400, 3569, INDUSTRIALS),
    (3580, 3629, INDUSTRIALS),
    (3720, 3799, INDUSTRIALS),
    (4000, 4789, INDUSTRIALS),
    (4950, 4959, INDUSTRIALS),  # waste management
    (5000, 5199, INDUSTRIALS),
    (7300, 7369, INDUSTRIALS),
    (8700, 8748, INDUSTRIALS),
]

KEYWORDS: dict[str, tuple[str, ...]] = {
    FINANCIALS: ("blank check", "business combination", "bank", "insurance", "asset management", "lending",
                 "brokerage", "payments processing", "fintech"),
    HEALTH: ("biotech", "biopharma", "therapeutic", "clinical", "pharmaceutical", "medical device", "drug",
             "oncology", "diagnostic", "patients", "healthcare"),
    TECH: ("software", "semiconductor", "cloud", "saas", "cybersecurity", "artificial intelligence", "data center",
           "chip", "it services", "computing"),
    COMMS: ("media", "entertainment", "streaming", "telecommunications", "wireless", "advertising", "publishing",
            "social network", "webtoon", "video game"),
    REAL_ESTATE: ("real estate investment trust", "reit", "real estate", "properties", "property management"),
    UTILITIES: ("electric utility", "utility", "natural gas distribution", "water utility", "power generation"),
    ENERGY: ("oil", "natural gas", "drilling", "pipeline", "refining", "exploration and production", "oilfield"),
    MATERIALS: ("mining", "chemicals", "steel", "gold", "lithium", "packaging", "copper", "fertilizer"),
    STAPLES: ("food", "beverage", "grocery", "household products", "tobacco", "personal care", "agricultur"),
    DISCRETIONARY: ("restaurant", "retail", "apparel", "automotive", "electric vehicle", "hotel", "travel",
                    "e-commerce", "consumer products", "leisure", "education"),
    INDUSTRIALS: ("aerospace", "defense", "construction", "engineering", "logistics", "freight", "machinery",
                  "staffing", "airline", "industrial", "trucking"),
}


def sector_for_sic(sic) -> str | None:
    try:
        code = int(str(sic).strip())
    except (TypeError, ValueError):
        return None
    for low, high, sector in SIC_RANGES:
        if low <= code <= high:
            return sector
    return None


def is_spac_sic(sic) -> bool:
    return str(sic).strip() == str(SPAC_SIC)


def sector_from_description(text: str | None) -> tuple[str | None, str]:
    """(sector, the keywords that decided it) — None when no sector clearly wins."""
    if not text:
        return None, "no business description"
    lowered = text.lower()
    scores = {}
    for sector, words in KEYWORDS.items():
        hits = [word for word in words if re.search(rf"\b{re.escape(word)}", lowered)]
        if hits:
            scores[sector] = hits
    if not scores:
        return None, "no sector keyword in the description"
    ranked = sorted(scores.items(), key=lambda item: len(item[1]), reverse=True)
    if len(ranked) > 1 and len(ranked[0][1]) == len(ranked[1][1]):
        return None, f"description ambiguous between {ranked[0][0]} and {ranked[1][0]}"
    sector, hits = ranked[0]
    return sector, "keywords: " + ", ".join(hits)
