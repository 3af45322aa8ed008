"""Importing splits and dividends (`symbol,date,kind,ratio`)."""

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import transaction

from monitors.quality.loader import bounds
from monitors.quality.loader.reading import header, load_bars_file, records
from monitors.quality.loader.results import LoadError, LoadResult, RowError
from monitors.quality.models import CorporateAction
from tickstock_ops.progress import ProgressCallback
from tickstock_ops.symbols import normalise_symbol

ACTION_COLUMNS = ["symbol", "date", "kind", "ratio"]
A_FOR_B = re.compile(r"\s*([0-9.]+)\s*(?:[:/]|-for-)\s*([0-9.]+)\s*")


@dataclass
class ActionsResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


def load_actions_file(path: str | Path) -> ActionsResult:
    """Import splits and dividends (`symbol,date,kind,ratio`); a split's ratio is `2`, `2:1`, `1:10` or `0.5`,
    a dividend's the cash amount per share. One transaction; each rejected row is reported at its first line."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig", errors="replace")  # noqa: SIM115 - closed below
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror}") from error
    result = ActionsResult()
    with handle, transaction.atomic():
        reader = csv.reader(handle)
        names = header(reader, ACTION_COLUMNS, "actions ")
        for line, row in records(reader, result.errors):
            result.rows += 1
            if row is None:
                continue
            if len(row) != len(names):
                result.errors.append(RowError(line, f"expected {len(names)} fields, found {len(row)}"))
                continue
            try:
                action = _parse_action(dict(zip(names, (cell.strip() for cell in row), strict=True)))
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
    symbol = normalise_symbol(values["symbol"])
    try:
        when = date.fromisoformat(values["date"]) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", values["date"]) else None
    except ValueError:
        when = None
    if when is None:
        raise ValueError(f"date {values['date']!r} is not a date (YYYY-MM-DD)")
    earliest, latest = bounds.action_dates()
    if not earliest <= when <= latest:
        raise ValueError(f"date {values['date']!r} is outside the accepted range {earliest} … {latest}")
    kind = values["kind"].lower()
    if kind not in CorporateAction.Kind.values:
        raise ValueError(f"kind {values['kind']!r} is not split or dividend")
    return {"symbol": symbol, "date": when, "kind": kind, "ratio": _ratio(kind, values["ratio"])}


def _ratio(kind: str, text: str) -> float:
    if kind == "dividend" and A_FOR_B.fullmatch(text):
        raise ValueError(f"ratio {text!r}: a dividend's ratio is the cash amount per share, not a:b")
    ratio = parse_ratio(text)
    if ratio is None or not math.isfinite(ratio) or ratio <= 0:
        raise ValueError(f"ratio {text!r} is not a finite positive number" + (" or a:b" if kind == "split" else ""))
    low, high = bounds.ratio_range(kind)
    if not low <= ratio <= high:
        what = "split ratio" if kind == "split" else "dividend per share"
        raise ValueError(f"ratio {text!r} is outside the accepted {what} range {low:g} … {high:g}")
    if kind == "split" and ratio == 1:
        raise ValueError("a 1:1 split changes nothing")
    return ratio


def parse_ratio(text: str) -> float | None:
    """`2`, `0.5`, `2:1`, `1/10` or `3-for-2` as new shares per old share; None when it is none of those."""
    match = A_FOR_B.fullmatch(text)
    try:
        if match:
            return float(match.group(1)) / float(match.group(2))
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None


def load_bars_and_actions(path: str | Path, actions_path: str | Path | None, *, source: str | None = None,
                          interval: str = "1d", progress: ProgressCallback | None = None
                          ) -> tuple[LoadResult, ActionsResult | None]:
    """A bars file and, optionally, its actions file in one transaction: when either file as a whole cannot be
    loaded, neither is stored (the LoadError names the file)."""
    with transaction.atomic():
        try:
            bars = load_bars_file(path, source=source, interval=interval, progress=progress)
        except LoadError as error:
            raise LoadError(f"{path}: {error}") from error
        try:
            actions = load_actions_file(actions_path) if actions_path else None
        except LoadError as error:
            raise LoadError(f"{actions_path}: {error}") from error
    return bars, actions
