"""One JSON Schema per JSON field of EquityType, and errors a person can read (`path: what is wrong`).

Bounds are generous but finite: a number nobody would type on purpose (a 10 % expense-ratio cap, a
ten-thousand-percent gap threshold) is refused, because a rule like that would silently disable a check.
"""

import json
import math
from functools import cache

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

UPDATE_FREQUENCIES = ["realtime", "1m", "5m", "15m", "1h", "daily"]
DATA_SOURCES = ["polygon", "fund_provider", "sec", "nasdaq", "news", "exchange", "manual"]
QUALITY_KEYS = ["price_move_pct", "gap_pct", "volume_spike_ratio", "volume_drought_ratio", "stale_minutes",
                "source_tolerance_pct", "source_volume_tolerance_pct", "volatility_ratio", "ma_distance_pct"]
ENRICHMENTS = ["nav_calculation", "premium_discount", "sector_allocation", "market_cap", "liquidity_tier",
               "dividend_yield"]


def _number(minimum: float, maximum: float, *, exclusive_minimum: bool = False) -> dict:
    schema: dict = {"type": "number", "maximum": maximum}
    schema["exclusiveMinimum" if exclusive_minimum else "minimum"] = minimum
    return schema


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": required or [],
            "additionalProperties": False}


PROCESSING_RULES = _object(
    {
        "data_sources": {"type": "array", "items": {"enum": DATA_SOURCES}, "minItems": 1, "uniqueItems": True},
        "update_frequency": {"enum": UPDATE_FREQUENCIES},
        "validation_rules": _object({
            "aum_minimum": _number(0, 1e13),
            "volume_threshold": _number(0, 1e10),
            "expense_ratio_max": _number(0, 10),
            "market_cap_minimum": _number(0, 1e14),
            "price_minimum": _number(0, 1e6),
            "premium_discount_max_pct": _number(0, 100),
            "min_days_listed": {"type": "integer", "minimum": 0, "maximum": 36500},
        }),
        "enrichment": _object({name: {"type": "boolean"} for name in ENRICHMENTS}),
        "quality": _object({
            "price_move_pct": _number(0, 1000, exclusive_minimum=True),
            "gap_pct": _number(0, 1000, exclusive_minimum=True),
            "volume_spike_ratio": _number(1, 1000, exclusive_minimum=True),
            "volume_drought_ratio": _number(0, 1, exclusive_minimum=True),
            "stale_minutes": _number(0, 10080, exclusive_minimum=True),
            "source_tolerance_pct": _number(0, 100, exclusive_minimum=True),
            "source_volume_tolerance_pct": _number(0, 100, exclusive_minimum=True),
            "volatility_ratio": _number(1, 100, exclusive_minimum=True),
            "ma_distance_pct": _number(0, 1000, exclusive_minimum=True),
        }),
        "queue_limit": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
    },
    required=["data_sources", "update_frequency", "validation_rules", "enrichment"],
)

RETRY_CONFIG = _object(
    {
        "max_retries": {"type": "integer", "minimum": 0, "maximum": 25},
        "backoff_multiplier": _number(1, 10),
        "base_delay_seconds": _number(0, 3600),
        "max_delay_seconds": _number(0, 86400),
        "jitter": _number(0, 1),
    },
    required=["max_retries", "backoff_multiplier"],
)

PERFORMANCE_TARGETS = _object(
    {
        "processing_time_ms": _number(0, 3_600_000, exclusive_minimum=True),
        "success_rate": _number(0, 100),
    },
    required=["processing_time_ms", "success_rate"],
)

SCHEMAS = {"processing_rules": PROCESSING_RULES, "retry_config": RETRY_CONFIG,
           "performance_targets": PERFORMANCE_TARGETS}

_TYPE_NAMES = {"number": "a number", "integer": "a whole number", "object": "an object ({…})",
               "array": "a list ([…])", "boolean": "true or false", "string": "a string"}


@cache
def _validator(field: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[field])


def errors(field: str, value) -> list[str]:
    """Every problem of `value` as the JSON field `field`, as `field.path: message` lines; [] when valid."""
    found = sorted(_validator(field).iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_path(field, error)}: {_message(error)}" for error in found]


def _path(field: str, error: SchemaError) -> str:
    path = field
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _format_number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 100_000 else str(value)


def _message(error: SchemaError) -> str:
    schema = error.schema
    kind = _TYPE_NAMES.get(schema.get("type"), "a value")
    if error.validator == "type":
        return f"must be {_TYPE_NAMES.get(error.validator_value, error.validator_value)}, not {_json(error.instance)}"
    if error.validator == "minimum":
        return f"must be {kind} ≥ {_format_number(error.validator_value)}, not {_json(error.instance)}"
    if error.validator == "exclusiveMinimum":
        return f"must be {kind} > {_format_number(error.validator_value)}, not {_json(error.instance)}"
    if error.validator == "maximum":
        return f"must be {kind} ≤ {_format_number(error.validator_value)}, not {_json(error.instance)}"
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        allowed = ", ".join(schema.get("properties", {}))
        return f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} (allowed: {allowed})"
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return f"missing required key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(_json, error.validator_value))}, not {_json(error.instance)}"
    if error.validator == "uniqueItems":
        return "lists a value twice"
    if error.validator == "minItems":
        return f"must list at least {error.validator_value} item{'s' if error.validator_value > 1 else ''}"
    return error.message


def _json(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "…"


MAX_DEPTH = 20  # rule documents are three or four levels deep; the bound keeps parsers and diffs off deep recursion


def strict_loads(text: str):
    """json.loads that refuses what JSON itself does not allow but Python accepts (NaN, Infinity, numbers that
    overflow to infinity, duplicate keys) and what no database can store (lone surrogates, NUL), and documents
    nested deeper than MAX_DEPTH. Every refusal is a ValueError saying what is wrong."""

    def no_constants(name: str):
        raise ValueError(f"{name} is not a JSON number")

    def finite(literal: str) -> float:
        number = float(literal)
        if not math.isfinite(number):
            raise ValueError(f"{literal} is not a finite JSON number")
        return number

    def no_duplicates(pairs: list) -> dict:
        keys = [key for key, _ in pairs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"key {', '.join(map(repr, duplicates))} appears twice in one object")
        return dict(pairs)

    try:
        value = json.loads(text, parse_constant=no_constants, parse_float=finite, object_pairs_hook=no_duplicates)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    _check_tree(value)
    return value


def _check_tree(value) -> None:
    """Depth and text of a parsed document, walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)) and depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("\\u0000 (NUL) is not allowed in text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"a lone surrogate (\\u{ord(text[error.start]):04x}) is not a character") from None
