import copy
import json

import pytest

from equity_rules import schemas
from equity_rules.tests.conftest import seed_migration

ETF = next(spec for spec in seed_migration.SEED if spec["equity_type"] == "etf")


def etf_rules(**changes) -> dict:
    rules = copy.deepcopy(ETF["processing_rules"])
    for path, value in changes.items():
        target = rules
        *parents, leaf = path.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value
    return rules


def test_every_seeded_equity_type_is_valid():
    assert [spec["equity_type"] for spec in seed_migration.SEED] == [
        "etf", "common_stock", "closed_end_fund", "adr", "reit", "preferred", "warrant", "unit"]
    for spec in seed_migration.SEED:
        for field in schemas.SCHEMAS:
            assert schemas.errors(field, spec[field]) == [], (spec["equity_type"], field)


def test_a_negative_number_names_its_path_and_the_bound():
    assert schemas.errors("processing_rules", etf_rules(validation_rules__aum_minimum=-5)) == [
        "processing_rules.validation_rules.aum_minimum: must be a number ≥ 0, not -5"]


@pytest.mark.parametrize(("change", "expected"), [
    ({"validation_rules__aum_minimum": "50M"},
     'processing_rules.validation_rules.aum_minimum: must be a number, not "50M"'),
    ({"validation_rules__volume_threshold": True},
     "processing_rules.validation_rules.volume_threshold: must be a number, not true"),
    ({"enrichment__nav_calculation": "yes"},
     'processing_rules.enrichment.nav_calculation: must be true or false, not "yes"'),
    ({"data_sources": "polygon"}, 'processing_rules.data_sources: must be a list ([…]), not "polygon"'),
    ({"validation_rules": []}, "processing_rules.validation_rules: must be an object ({…}), not []"),
])
def test_wrong_types_are_refused_with_their_path(change, expected):
    assert schemas.errors("processing_rules", etf_rules(**change)) == [expected]


@pytest.mark.parametrize(("change", "expected"), [
    ({"validation_rules__expense_ratio_max": 250}, "validation_rules.expense_ratio_max: must be a number ≤ 10"),
    ({"validation_rules__aum_minimum": 1e20}, "validation_rules.aum_minimum: must be a number ≤ 10,000,000,000,000"),
    ({"quality__volume_drought_ratio": 3}, "quality.volume_drought_ratio: must be a number ≤ 1"),
    ({"quality__volume_spike_ratio": 0.5}, "quality.volume_spike_ratio: must be a number > 1"),
    ({"quality__stale_minutes": 0}, "quality.stale_minutes: must be a number > 0"),
])
def test_absurd_numbers_are_refused(change, expected):
    [message] = schemas.errors("processing_rules", etf_rules(**change))
    assert message.startswith("processing_rules." + expected)


def test_unknown_keys_are_refused_at_every_level_and_the_allowed_ones_listed():
    rules = etf_rules(validation_rules__aum_min=5, quality__price_move=20)
    rules["colour"] = "blue"
    messages = schemas.errors("processing_rules", rules)
    assert messages[0].startswith("processing_rules: unknown key 'colour' (allowed: data_sources, update_frequency")
    assert messages[1].startswith("processing_rules.quality: unknown key 'price_move' (allowed: price_move_pct,")
    assert messages[2].startswith("processing_rules.validation_rules: unknown key 'aum_min' (allowed: aum_minimum")


def test_the_quality_section_accepts_exactly_the_quality_apps_threshold_names():
    thresholds = {"price_move_pct": 20, "gap_pct": 8, "volume_spike_ratio": 5, "volume_drought_ratio": 0.2,
                  "stale_minutes": 10, "source_tolerance_pct": 0.5, "source_volume_tolerance_pct": 10,
                  "volatility_ratio": 3, "ma_distance_pct": 25}
    assert set(thresholds) == set(schemas.QUALITY_KEYS)
    assert schemas.errors("processing_rules", etf_rules(quality=thresholds)) == []


def test_missing_required_keys_and_bad_enums():
    rules = etf_rules(update_frequency="hourly")
    del rules["data_sources"]
    assert schemas.errors("processing_rules", rules) == [
        "processing_rules: missing required key 'data_sources'",
        'processing_rules.update_frequency: must be one of "realtime", "1m", "5m", "15m", "1h", "daily", not "hourly"',
    ]
    assert schemas.errors("retry_config", {"max_retries": 2.5, "backoff_multiplier": 0}) == [
        "retry_config.backoff_multiplier: must be a number ≥ 1, not 0",
        "retry_config.max_retries: must be a whole number, not 2.5",
    ]
    assert schemas.errors("performance_targets", {"processing_time_ms": 500, "success_rate": 101}) == [
        "performance_targets.success_rate: must be a number ≤ 100, not 101"]


@pytest.mark.parametrize(("text", "problem"), [
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": Infinity}', "Infinity is not a JSON number"),
    ('{"a": 1, "a": 2}', "key 'a' appears twice in one object"),
])
def test_strict_parsing_refuses_what_json_does_not_allow(text, problem):
    with pytest.raises(ValueError, match=problem):
        schemas.strict_loads(text)


def test_strict_parsing_reports_syntax_errors_with_their_position():
    with pytest.raises(json.JSONDecodeError) as error:
        schemas.strict_loads('{\n  "a": 1\n  "b": 2\n}')
    assert (error.value.lineno, error.value.colno) == (3, 3)
