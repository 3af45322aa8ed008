"""Label matchers, as Alertmanager writes them: `name=value`, `name!=value`, `name=~regex`, `name!~regex`.

One parser and one matcher for both uses: silences (which alerts a silence mutes) and the dashboard's alert filter.
A regular expression matches the whole value (it is anchored), and a missing label matches as the empty string,
so `exchange!=XNAS` also matches alerts without an exchange label (docs/dashboard.md, Silences).
"""

import re
from dataclasses import dataclass

OPERATORS = ("=~", "!~", "!=", "=")
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_MATCHER = re.compile(rf"""\s*({NAME})\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|(?:[^,\s="~!][^,\s]*)?)\s*""")


class MatcherError(ValueError):
    """A matcher that cannot be parsed, or a set of matchers that would match every alert."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if not re.fullmatch(NAME, self.name or ""):
            raise MatcherError(f"{self.name!r} is not a label name (letters, digits and _)")
        if self.op not in OPERATORS:
            raise MatcherError(f"{self.op!r} is not an operator; use one of {', '.join(OPERATORS)}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as error:
                raise MatcherError(f"{self.name}{self.op}{self.value}: bad regular expression ({error})") from None

    def matches(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = re.fullmatch(self.value, value) is not None
        return found if self.op == "=~" else not found

    def as_dict(self) -> dict:
        return {"name": self.name, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        plain = re.fullmatch(r"[^\s,\"]+", self.value)
        value = self.value if plain else '"' + self.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{self.name}{self.op}{value}"


def parse_one(text: str) -> Matcher:
    found = _MATCHER.fullmatch(text)
    if not found:
        raise MatcherError(f"{text.strip()!r} is not a matcher like type=volume_spike, source!=feed-a or "
                           "symbol=~\"AA.*\"")
    name, op, value = found.groups()
    if value.startswith('"'):
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return Matcher(name, op, value)


def parse(text: str) -> list[Matcher]:
    """`type=volume_spike, source=feed-b` (commas or spaces between matchers; quote values with spaces)."""
    matchers, position = [], 0
    text = (text or "").strip().strip("{}")
    while position < len(text):
        found = _MATCHER.match(text, position)
        if not found or found.end() == position:
            raise MatcherError(f"{text[position:].strip()!r} is not a matcher like type=volume_spike")
        matchers.append(parse_one(found.group(0)))
        position = found.end()
        while position < len(text) and text[position] in ", ":
            position += 1
    return matchers


def from_json(rows: list[dict]) -> list[Matcher]:
    if not isinstance(rows, list):
        raise MatcherError("matchers must be a list of {name, op, value}")
    try:
        return [Matcher(str(row["name"]), str(row["op"]), str(row["value"])) for row in rows]
    except (KeyError, TypeError):
        raise MatcherError("each matcher needs a name, an op and a value") from None


def check_selective(matchers: list[Matcher]) -> None:
    """Refuse matchers that would also match an alert without any labels: a silence must name what it mutes."""
    if not matchers:
        raise MatcherError("give at least one matcher, e.g. type=volume_spike")
    if all(matcher.matches({}) for matcher in matchers):
        raise MatcherError("these matchers would match every alert; add one that names a label value, "
                           "e.g. type=volume_spike")


def matches_all(matchers: list[Matcher], labels: dict[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


def text(matchers: list[Matcher]) -> str:
    return ", ".join(str(matcher) for matcher in matchers)
