"""The eight equity types and their starting rules, each as version 1 in the history."""

from django.db import migrations
from django.utils import timezone

SEED = [
    {
        "equity_type": "etf", "name": "ETF", "priority_level": 1,
        "processing_rules": {
            "data_sources": ["polygon", "fund_provider"], "update_frequency": "realtime",
            "validation_rules": {"aum_minimum": 50000000, "volume_threshold": 100000, "expense_ratio_max": 2.0},
            "enrichment": {"nav_calculation": True, "premium_discount": True, "sector_allocation": True},
        },
        "retry_config": {"max_retries": 3, "backoff_multiplier": 2},
        "performance_targets": {"processing_time_ms": 500, "success_rate": 99.5},
    },
    {
        "equity_type": "common_stock", "name": "Common Stock", "priority_level": 2,
        "processing_rules": {
            "data_sources": ["polygon", "sec"], "update_frequency": "realtime",
            "validation_rules": {"price_minimum": 1.0, "volume_threshold": 50000, "market_cap_minimum": 50000000},
            "enrichment": {"market_cap": True, "liquidity_tier": True, "sector_allocation": True},
            "quality": {},
        },
        "retry_config": {"max_retries": 3, "backoff_multiplier": 2, "base_delay_seconds": 1},
        "performance_targets": {"processing_time_ms": 500, "success_rate": 99.5},
    },
    {
        "equity_type": "closed_end_fund", "name": "Closed-End Fund", "priority_level": 2,
        "processing_rules": {
            "data_sources": ["polygon", "fund_provider"], "update_frequency": "15m",
            "validation_rules": {"aum_minimum": 100000000, "volume_threshold": 20000, "expense_ratio_max": 3.0,
                                 "premium_discount_max_pct": 25},
            "enrichment": {"nav_calculation": True, "premium_discount": True, "sector_allocation": True,
                           "dividend_yield": True},
            "quality": {"volume_drought_ratio": 0.1},
        },
        "retry_config": {"max_retries": 3, "backoff_multiplier": 2, "base_delay_seconds": 2},
        "performance_targets": {"processing_time_ms": 750, "success_rate": 99.0},
    },
    {
        "equity_type": "adr", "name": "ADR", "priority_level": 3,
        "processing_rules": {
            "data_sources": ["polygon", "sec"], "update_frequency": "5m",
            "validation_rules": {"price_minimum": 1.0, "volume_threshold": 25000, "market_cap_minimum": 100000000},
            "enrichment": {"market_cap": True, "liquidity_tier": True},
            "quality": {"gap_pct": 15, "stale_minutes": 20},
        },
        "retry_config": {"max_retries": 3, "backoff_multiplier": 2, "base_delay_seconds": 2},
        "performance_targets": {"processing_time_ms": 750, "success_rate": 99.0},
    },
    {
        "equity_type": "reit", "name": "REIT", "priority_level": 3,
        "processing_rules": {
            "data_sources": ["polygon", "sec"], "update_frequency": "15m",
            "validation_rules": {"price_minimum": 1.0, "volume_threshold": 50000, "market_cap_minimum": 200000000},
            "enrichment": {"market_cap": True, "dividend_yield": True, "sector_allocation": True},
            "quality": {"price_move_pct": 15},
        },
        "retry_config": {"max_retries": 3, "backoff_multiplier": 2, "base_delay_seconds": 2},
        "performance_targets": {"processing_time_ms": 1000, "success_rate": 99.0},
    },
    {
        "equity_type": "preferred", "name": "Preferred Stock", "priority_level": 4,
        "processing_rules": {
            "data_sources": ["polygon", "exchange"], "update_frequency": "1h",
            "validation_rules": {"price_minimum": 5.0, "volume_threshold": 5000},
            "enrichment": {"dividend_yield": True, "liquidity_tier": True},
            "quality": {"price_move_pct": 10, "volume_spike_ratio": 8, "volume_drought_ratio": 0.1},
        },
        "retry_config": {"max_retries": 4, "backoff_multiplier": 2, "base_delay_seconds": 5},
        "performance_targets": {"processing_time_ms": 1500, "success_rate": 98.0},
    },
    {
        "equity_type": "warrant", "name": "Warrant", "priority_level": 5,
        "processing_rules": {
            "data_sources": ["polygon", "sec"], "update_frequency": "1h",
            "validation_rules": {"price_minimum": 0.01, "volume_threshold": 1000},
            "enrichment": {"liquidity_tier": True},
            "quality": {"price_move_pct": 50, "gap_pct": 30, "volume_spike_ratio": 10,
                        "volume_drought_ratio": 0.05},
        },
        "retry_config": {"max_retries": 2, "backoff_multiplier": 3, "base_delay_seconds": 10},
        "performance_targets": {"processing_time_ms": 2000, "success_rate": 97.0},
    },
    {
        "equity_type": "unit", "name": "Unit / SPAC", "priority_level": 5,
        "processing_rules": {
            "data_sources": ["polygon", "sec", "nasdaq"], "update_frequency": "daily",
            "validation_rules": {"price_minimum": 5.0, "volume_threshold": 1000},
            "enrichment": {"liquidity_tier": True},
            "quality": {"price_move_pct": 10, "volume_spike_ratio": 10, "volume_drought_ratio": 0.05},
        },
        "retry_config": {"max_retries": 2, "backoff_multiplier": 2, "base_delay_seconds": 30},
        "performance_targets": {"processing_time_ms": 2000, "success_rate": 97.0},
    },
]


def seed(apps, schema_editor):
    EquityType = apps.get_model("equity_rules", "EquityType")
    HistoricalEquityType = apps.get_model("equity_rules", "HistoricalEquityType")
    now = timezone.now()
    for spec in SEED:
        if EquityType.objects.filter(equity_type=spec["equity_type"]).exists():
            continue
        row = EquityType.objects.create(version=1, last_updated=now, **spec)
        HistoricalEquityType.objects.create(
            id=row.id, version=1, last_updated=now, history_date=now, history_type="+",
            history_change_reason="seed data", **spec,
        )


def unseed(apps, schema_editor):
    apps.get_model("equity_rules", "EquityType").objects.filter(
        equity_type__in=[spec["equity_type"] for spec in SEED], securities__isnull=True, jobs__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("equity_rules", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
