"""Progress of a long command (an import, a full scan, a backfill) drawn with rich on stderr — only when stderr
is a terminal and the command was not asked for JSON, so logs, pipes and cron mails stay clean."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class ProgressCallback(Protocol):
    def __call__(self, done: int, total: int | None, stage: str = "") -> None:
        """`done` of `total` units (total None: not known yet); `stage` names what is being done now."""


def _silent(done: int, total: int | None, stage: str = "") -> None:
    return None


@contextmanager
def terminal_progress(label: str, *, quiet: bool = False, stream: TextIO | None = None) -> Iterator[ProgressCallback]:
    """A callback that moves a progress bar labelled `label`; it draws nothing when `quiet` or not on a terminal."""
    console = Console(file=stream or sys.stderr)
    if quiet or not console.is_terminal:
        yield _silent
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None, stage: str = "") -> None:
            bar.update(task, completed=done, total=total, description=f"{label} · {stage}" if stage else label)

        yield update
