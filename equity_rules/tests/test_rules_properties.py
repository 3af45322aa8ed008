"""Property: any text typed into a rules field is either saved exactly as written or refused with a readable
error (syntax errors with their line), never a crash, and a refusal leaves the stored rules untouched."""

import json
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from equity_rules import schemas, versions
from equity_rules.forms import EquityTypeForm
from equity_rules.models import EquityType

pytestmark = pytest.mark.django_db

hostile_text = st.text(st.characters(codec=None), max_size=8) | st.sampled_from(
    ["\ud800", "\udfff", "a\x00b", "Tech\ud83d", "\U0001f4c8 growth", ""])
numbers = (st.integers(-10**20, 10**20) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([1e308, -1e308, 5e-324, 1e-320, 0.0, -0.0]))
leaves = st.none() | st.booleans() | numbers | hostile_text
any_json = st.recursive(leaves, lambda children: st.lists(children, max_size=3)
                        | st.dictionaries(hostile_text, children, max_size=3), max_leaves=12)

plausible = st.integers(0, 10**6) | st.floats(0, 1e6)
values = st.one_of(plausible, plausible, plausible, numbers, hostile_text)  # mostly valid, sometimes not
validation_rules = st.fixed_dictionaries({}, optional={
    "aum_minimum": values, "volume_threshold": values, "expense_ratio_max": st.floats(0, 10) | values,
    "price_minimum": values, "min_days_listed": st.integers(0, 36500) | values})
quality = st.fixed_dictionaries({}, optional={key: st.floats(0.01, 0.99) | values for key in schemas.QUALITY_KEYS})
sources = st.lists(st.sampled_from(schemas.DATA_SOURCES), min_size=1, max_size=3, unique=True)
processing_rules = st.fixed_dictionaries(
    {"data_sources": st.one_of(sources, sources, st.lists(st.sampled_from(schemas.DATA_SOURCES) | hostile_text)),
     "update_frequency": st.sampled_from(schemas.UPDATE_FREQUENCIES) | hostile_text,
     "validation_rules": validation_rules,
     "enrichment": st.dictionaries(st.sampled_from(schemas.ENRICHMENTS), st.booleans(), max_size=3)
     | st.dictionaries(hostile_text, leaves, max_size=2)},
    optional={"quality": quality, "queue_limit": st.integers(1, 10**6) | values, "extra": any_json})


def bounded(maximum: float):
    return st.integers(0, int(maximum)) | st.floats(0, maximum) | st.sampled_from([5e-324, 0.1, maximum])


valid_rules = st.fixed_dictionaries(
    {"data_sources": sources, "update_frequency": st.sampled_from(schemas.UPDATE_FREQUENCIES),
     "validation_rules": st.fixed_dictionaries({}, optional={
         "aum_minimum": bounded(1e13), "volume_threshold": bounded(1e10), "expense_ratio_max": bounded(10),
         "price_minimum": bounded(1e6), "min_days_listed": st.integers(0, 36500)}),
     "enrichment": st.dictionaries(st.sampled_from(schemas.ENRICHMENTS), st.booleans(), max_size=3)},
    optional={"quality": st.fixed_dictionaries({}, optional={"gap_pct": st.floats(0.5, 1000),
                                                             "volume_drought_ratio": st.floats(0.01, 0.99)}),
              "queue_limit": st.integers(1, 10_000_000)})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def as_text(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


document_text = st.one_of(
    valid_rules.map(as_text),
    processing_rules.map(as_text),
    any_json.map(as_text),
    st.integers(1, 30_000).map(nested),
    st.tuples(processing_rules.map(as_text), st.integers(0, 400)).map(lambda pair: pair[0][: pair[1]]),
    st.sampled_from(['{"data_sources": ["polygon"], "data_sources": ["sec"]}', "[NaN]", "[-Infinity]", "[1e999]",
                     '{"a": 1,}', "\ufeff{}", '"\\ud800"']),
)


def same_json(stored, typed) -> bool:
    """Equal values, floats to the bit (JSON cannot tell 1 from 1.0, so types of whole numbers are not compared)."""
    if isinstance(typed, dict):
        return isinstance(stored, dict) and stored.keys() == typed.keys() and all(
            same_json(stored[key], typed[key]) for key in typed)
    if isinstance(typed, list):
        return isinstance(stored, list) and len(stored) == len(typed) and all(map(same_json, stored, typed))
    if isinstance(typed, float) and isinstance(stored, float):
        return math.copysign(1, stored) == math.copysign(1, typed) and stored == typed
    return stored == typed and type(stored) is type(typed) or (
        isinstance(stored, (int, float)) and not isinstance(stored, bool) and stored == typed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(text=document_text)
def test_typed_rules_are_saved_exactly_or_refused_with_a_message(text):
    etf = EquityType.objects.get(equity_type="etf")
    before = (etf.version, etf.processing_rules)
    data = {"name": etf.name, "priority_level": etf.priority_level, "processing_rules": text,
            "retry_config": json.dumps(etf.retry_config), "performance_targets": json.dumps(etf.performance_targets),
            "based_on_version": etf.version}
    form = EquityTypeForm(data=data, instance=etf)

    if form.is_valid():
        event("saved")
        versions.save(form.save(commit=False))
        stored = EquityType.objects.get(pk=etf.pk).processing_rules
        assert same_json(stored, json.loads(text)), (stored, text)
        assert schemas.errors("processing_rules", stored) == []
    else:
        messages = form.errors.get("processing_rules") or form.errors.get("__all__")
        assert messages and all(message.strip() for message in messages), form.errors
        event("refused: " + messages[0].split(":")[0][:30])
        if messages[0].startswith("invalid JSON at line"):
            assert ", column " in messages[0]
        etf.refresh_from_db()
        assert (etf.version, etf.processing_rules) == before
