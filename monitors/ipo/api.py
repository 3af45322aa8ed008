"""What other apps may use of the IPO monitor: the Polygon/Massive client (daily aggregates) and its errors.
Anything else in this package is its own business."""

from monitors.ipo.sources.polygon import Bar, PolygonClient
from tickstock_ops.http import SourceError

__all__ = ["Bar", "PolygonClient", "SourceError"]
