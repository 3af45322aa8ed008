"""Importing splits and dividends (`symbol,date,kind,ratio`)."""

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import transaction

from monitors.quality.loader.reading import header
from monitors.quality.loader.results import LoadError, RowError
from monitors.quality.loader.validation import SYMBOL
from monitors.quality.models import CorporateAction

ACTION_COLUMNS = ["symbol", "date", "kind", "ratio"]


@dataclass
class ActionsResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


def load_actions_file(path: str | Path) -> ActionsResult:
    """Import splits and dividends (`symbol,date,kind,ratio`); a split's ratio is `2`, `2:1`, `1:10` or `0.5`."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig", errors="replace")  # noqa: SIM115 - closed below
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    result = ActionsResult()
    with handle, transaction.atomic():
        reader = csv.reader(handle)
        names = header(reader, ACTION_COLUMNS, "actions ")
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            result.rows += 1
            line = reader.line_num
            if len(row) != len(names):
                result.errors.append(RowError(line, f"expected {len(names)} fields, found {len(row)}"))
                continue
            values = dict(zip(names, (cell.strip() for cell in row), strict=True))
            try:
                action = _parse_action(values)
            except ValueError as error:
                result.errors.append(RowError(line, str(error)))
                continue
            _, created = CorporateAction.objects.update_or_create(
                symbol=action["symbol"], date=action["date"], kind=action["kind"],
                defaults={"ratio": action["ratio"]},
            )
            if created:
                result.created += 1
            else:
                result.updated += 1
    return result


def _parse_action(values: dict) -> dict:
    symbol = values["symbol"].upper()
    if not SYMBOL.match(symbol):
        raise ValueError(f"symbol {values['symbol']!r} is not a ticker")
    try:
        when = date.fromisoformat(values["date"])
    except ValueError:
        raise ValueError(f"date {values['date']!r} is not a date (YYYY-MM-DD)") from None
    kind = values["kind"].lower()
    if kind not in CorporateAction.Kind.values:
        raise ValueError(f"kind {values['kind']!r} is not split or dividend")
    ratio = parse_ratio(values["ratio"])
    if ratio is None or ratio <= 0:
        raise ValueError(f"ratio {values['ratio']!r} is not a positive number or a:b")
    if kind == "split" and ratio == 1:
        raise ValueError("a 1:1 split changes nothing")
    return {"symbol": symbol, "date": when, "kind": kind, "ratio": ratio}


def parse_ratio(text: str) -> float | None:
    match = re.fullmatch(r"\s*([0-9.]+)\s*(?:[:/]|-for-)\s*([0-9.]+)\s*", text)
    try:
        if match:
            return float(match.group(1)) / float(match.group(2))
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None
