"""The bounds every imported value must fall within (docs/input-bounds.md), resolved from settings in one place."""

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from monitors.quality import conf


@dataclass(frozen=True)
class Bounds:
    earliest: pd.Timestamp
    latest: pd.Timestamp
    price_min: float
    price_max: float
    max_volume: float

    def describe_time(self) -> str:
        return f"{self.earliest:%Y-%m-%d} … {self.latest:%Y-%m-%d %H:%M} UTC"


def bar_bounds(now: pd.Timestamp | None = None) -> Bounds:
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    price_min, price_max = conf.get("QUALITY_PRICE_RANGE")
    return Bounds(earliest=pd.Timestamp(conf.get("QUALITY_EARLIEST_BAR"), tz="UTC"),
                  latest=now + pd.Timedelta(seconds=conf.get("QUALITY_BAR_FUTURE_SLACK_SECONDS")),
                  price_min=float(price_min), price_max=float(price_max),
                  max_volume=float(conf.get("QUALITY_MAX_VOLUME")))


def action_dates(today: date | None = None) -> tuple[date, date]:
    today = today or date.today()
    return (date.fromisoformat(conf.get("QUALITY_EARLIEST_BAR")),
            today + timedelta(days=conf.get("QUALITY_ACTION_FUTURE_DAYS")))


def ratio_range(kind: str) -> tuple[float, float]:
    low, high = conf.get("QUALITY_SPLIT_RATIO_RANGE" if kind == "split" else "QUALITY_DIVIDEND_RANGE")
    return float(low), float(high)
