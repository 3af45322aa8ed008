"""Rules as versioned data: a save is a new version, rollback restores an old version as a new one,
and a diff shows what changed between two versions, key by key."""

import json
from dataclasses import dataclass

from django.db import transaction

from equity_rules.models import EquityType, StaleRulesError, stale_message

RULE_FIELDS = ["name", "processing_rules", "priority_level", "retry_config", "performance_targets"]


def save(equity_type: EquityType, *, user=None, reason: str = "") -> EquityType:
    """Save an edit made on `equity_type.version`; StaleRulesError if another save came first."""
    equity_type._history_user = user
    equity_type._change_reason = reason or None
    equity_type.save()
    return equity_type


def rollback(key: str, to_version: int, *, user=None, based_on_version: int | None = None) -> EquityType:
    """Make version `to_version` current again, as a new version (history is never rewritten)."""
    with transaction.atomic():
        equity_type = EquityType.objects.select_for_update().get(equity_type=key)
        if based_on_version is not None and equity_type.version != based_on_version:
            raise StaleRulesError(stale_message(equity_type.pk, based_on_version))
        old = version_record(equity_type, to_version)
        for field in RULE_FIELDS:
            setattr(equity_type, field, getattr(old, field))
        return save(equity_type, user=user, reason=f"rollback to version {to_version}")


def version_record(equity_type: EquityType, version: int):
    record = equity_type.history.filter(version=version).order_by("-history_id").first()
    if record is None:
        raise LookupError(f"{equity_type.equity_type} has no version {version}")
    return record


@dataclass(frozen=True)
class Change:
    path: str
    old: object
    new: object

    @property
    def old_text(self) -> str:
        return _as_json(self.old)

    @property
    def new_text(self) -> str:
        return _as_json(self.new)

    @property
    def kind(self) -> str:
        if self.old is _MISSING:
            return "added"
        if self.new is _MISSING:
            return "removed"
        return "changed"


_MISSING = type("Missing", (), {"__repr__": lambda self: "—", "__str__": lambda self: "—"})()


def _as_json(value) -> str:
    return "—" if value is _MISSING else json.dumps(value, ensure_ascii=False)


def diff(old, new) -> list[Change]:
    """Changed leaves between two versions (historical records or EquityType rows), as dotted paths."""
    changes: list[Change] = []
    for field in RULE_FIELDS:
        _diff_value(field, getattr(old, field), getattr(new, field), changes)
    return changes


def _diff_value(path: str, old, new, changes: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [key for key in new if key not in old]:
            _diff_value(f"{path}.{key}", old.get(key, _MISSING), new.get(key, _MISSING), changes)
    elif old != new or type(old) is not type(new):
        changes.append(Change(path, old, new))
