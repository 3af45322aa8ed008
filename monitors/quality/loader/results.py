"""What an import reports: its counts, and each rejected row by line number."""

from dataclasses import dataclass, field


class LoadError(Exception):
    """The file as a whole cannot be loaded (unreadable, no header, wrong columns, unknown interval)."""


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class LoadResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

