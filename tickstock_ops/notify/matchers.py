"""Alertmanager's label matchers: `name=value`, `name!=value`, `name=~regex`, `name!~regex` (regexes anchored)."""

import re
from dataclasses import dataclass

MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class MatcherError(ValueError):
    """A matcher line that cannot be read; the message quotes it."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str
    pattern: re.Pattern | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found


def parse_matchers(text: str) -> list[Matcher]:
    """One matcher per line (or comma-separated on one line when no regex is involved)."""
    found = []
    for line in (text or "").splitlines():
        parts = [line] if "~" in line else line.split(",")
        for part in parts:
            if not part.strip():
                continue
            match = MATCHER.match(part)
            if not match:
                raise MatcherError(f"{part.strip()!r} is not label=value, label!=value, label=~regex or "
                                   f"label!~regex")
            label, op, value = match.groups()
            value = value.strip('"')
            pattern = None
            if "~" in op:
                try:
                    pattern = re.compile(value)
                except re.error as error:
                    raise MatcherError(f"{part.strip()!r}: bad regex: {error}") from None
            found.append(Matcher(label, op, value, pattern))
    return found
