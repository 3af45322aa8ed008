"""How sources name a deal: the normalised company name and a SPAC's unit ticker, used to match them."""

import functools
import re

SUFFIXES = {"inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "llc", "lp", "plc",
            "sa", "nv", "ag", "se", "holdings", "holding", "the"}
SECURITY_WORDS = re.compile(r"\b(class [a-c]( ordinary| common)?( shares| stock)?|ordinary shares|common stock|units?|"
                            r"american depositary shares|ads)\b")


@functools.lru_cache(maxsize=65536)
def name_key(name: str | None) -> str:
    """`"Primega Group Holdings Ltd."` and `"PRIMEGA GROUP HOLDINGS LIMITED /KY/"` → `"primega group"`."""
    if not name:
        return ""
    text = name.lower().replace("&", " and ")
    text = re.sub(r"/[a-z]{2,3}/", " ", text)
    text = SECURITY_WORDS.sub(" ", text)
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    while words and words[-1] in SUFFIXES:
        words.pop()
    while words and words[0] == "the":
        words.pop(0)
    return " ".join(words)


def unit_root(ticker: str | None) -> str | None:
    """The SPAC root of a units ticker (`ABCDU` → `ABCD`), else None."""
    if ticker and len(ticker) >= 4 and ticker.endswith("U"):
        return ticker[:-1]
    return None
