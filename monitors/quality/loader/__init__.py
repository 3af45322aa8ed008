"""Importing bars and corporate actions: reading (reading.py), validating (validation.py), the one bar writer
(writer.py) and splits and dividends (actions.py)."""

from monitors.quality.loader.actions import ActionsResult, load_actions_file, load_bars_and_actions, parse_ratio
from monitors.quality.loader.reading import load_bars, load_bars_file
from monitors.quality.loader.results import LoadError, LoadResult, RowError
from monitors.quality.loader.writer import store_chunks, upsert_frame, write_bars

__all__ = ["ActionsResult", "LoadError", "LoadResult", "RowError", "load_actions_file", "load_bars",
           "load_bars_and_actions",
           "load_bars_file", "parse_ratio", "store_chunks", "upsert_frame", "write_bars"]
