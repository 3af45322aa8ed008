import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from equity_rules import api, versions
from equity_rules.models import EquityType, StaleRulesError
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db


def rules_events() -> list[dict]:
    return [e.payload for e in OutboxEvent.objects.filter(type="tickstock.config.rules_updated").order_by("id")]


def test_seed_data_holds_the_etf_rules_exactly_as_specified_and_eight_types():
    assert set(EquityType.objects.values_list("equity_type", flat=True)) == {
        "etf", "common_stock", "adr", "reit", "preferred", "closed_end_fund", "warrant", "unit"}
    etf = EquityType.objects.get(equity_type="etf")
    assert etf.processing_rules == {
        "data_sources": ["polygon", "fund_provider"], "update_frequency": "realtime",
        "validation_rules": {"aum_minimum": 50000000, "volume_threshold": 100000, "expense_ratio_max": 2.0},
        "enrichment": {"nav_calculation": True, "premium_discount": True, "sector_allocation": True},
    }
    assert etf.priority_level == 1
    assert etf.retry_config == {"max_retries": 3, "backoff_multiplier": 2}
    assert etf.performance_targets == {"processing_time_ms": 500, "success_rate": 99.5}
    assert etf.version == 1
    assert etf.history.get().history_change_reason == "seed data"


def test_every_save_is_a_new_version_with_who_and_an_event(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    etf = EquityType.objects.get(equity_type="etf")
    etf.processing_rules["validation_rules"]["aum_minimum"] = 75_000_000
    versions.save(etf, user=alice, reason="tighter AUM floor")

    etf.refresh_from_db()
    assert etf.version == 2
    latest = etf.history.order_by("-history_id").first()
    assert (latest.version, latest.history_user, latest.history_change_reason) == (2, alice, "tighter AUM floor")
    assert rules_events()[-1] == {"equity_type": "etf", "version": 2, "previous_version": 1, "changed_by": "alice",
                                  "change_reason": "tighter AUM floor"}


def test_an_invalid_rule_is_never_saved_whatever_the_path(django_user_model):
    etf = EquityType.objects.get(equity_type="etf")
    etf.processing_rules["validation_rules"]["aum_minimum"] = -1
    with pytest.raises(ValidationError) as error:
        etf.save()
    assert error.value.message_dict == {"processing_rules": [
        "processing_rules.validation_rules.aum_minimum: must be a number ≥ 0, not -1"]}
    assert EquityType.objects.get(equity_type="etf").processing_rules["validation_rules"]["aum_minimum"] == 50000000
    assert etf.history.count() == 1
    assert rules_events() == []


def test_a_save_based_on_a_stale_version_is_refused_and_loses_nothing(django_user_model):
    bob = django_user_model.objects.create_user("bob")
    alices_copy = EquityType.objects.get(equity_type="etf")
    bobs_copy = EquityType.objects.get(equity_type="etf")

    bobs_copy.priority_level = 2
    versions.save(bobs_copy, user=bob)
    alices_copy.performance_targets["processing_time_ms"] = 900
    with pytest.raises(StaleRulesError, match=r"etf was changed to version 2 by bob at .* while you were editing "
                                              r"version 1\. Reload"):
        versions.save(alices_copy)

    stored = EquityType.objects.get(equity_type="etf")
    assert (stored.version, stored.priority_level, stored.performance_targets["processing_time_ms"]) == (2, 2, 500)
    assert [event["version"] for event in rules_events()] == [2]


def test_rollback_restores_an_old_version_as_a_new_one():
    etf = EquityType.objects.get(equity_type="etf")
    etf.processing_rules["validation_rules"]["expense_ratio_max"] = 1.0
    etf.priority_level = 3
    versions.save(etf)

    restored = versions.rollback("etf", 1)

    assert restored.version == 3
    assert restored.processing_rules["validation_rules"]["expense_ratio_max"] == 2.0
    assert restored.priority_level == 1
    assert [r.version for r in restored.history.order_by("history_id")] == [1, 2, 3]
    assert restored.history.order_by("-history_id").first().history_change_reason == "rollback to version 1"
    assert rules_events()[-1] == {"equity_type": "etf", "version": 3, "previous_version": 2, "changed_by": "system",
                                  "change_reason": "rollback to version 1"}


def test_rollback_refuses_an_unknown_version_and_a_stale_base():
    with pytest.raises(LookupError, match="etf has no version 7"):
        versions.rollback("etf", 7)
    etf = EquityType.objects.get(equity_type="etf")
    etf.priority_level = 2
    versions.save(etf)
    with pytest.raises(StaleRulesError, match="while you were editing version 1"):
        versions.rollback("etf", 1, based_on_version=1)
    assert EquityType.objects.get(equity_type="etf").version == 2


def test_diff_lists_changed_added_and_removed_keys_by_path():
    etf = EquityType.objects.get(equity_type="etf")
    etf.processing_rules["validation_rules"]["aum_minimum"] = 60_000_000
    etf.processing_rules["quality"] = {"gap_pct": 5}
    del etf.processing_rules["enrichment"]["sector_allocation"]
    versions.save(etf)

    changes = versions.diff(versions.version_record(etf, 1), versions.version_record(etf, 2))
    assert [(c.path, c.kind, c.old, c.new) for c in changes if c.kind == "changed"] == [
        ("processing_rules.validation_rules.aum_minimum", "changed", 50000000, 60000000)]
    assert {(c.path, c.kind) for c in changes} == {
        ("processing_rules.validation_rules.aum_minimum", "changed"),
        ("processing_rules.enrichment.sector_allocation", "removed"),
        ("processing_rules.quality", "added"),
    }


def test_current_rules_reads_the_committed_rules_fresh_each_time():
    assert api.current_rules("etf")["validation_rules"]["aum_minimum"] == 50000000
    etf = EquityType.objects.get(equity_type="etf")
    etf.processing_rules["quality"] = {"price_move_pct": 12}
    versions.save(etf)
    assert api.current_rules("etf")["quality"] == {"price_move_pct": 12}
    assert api.current_rules("no_such_type") is None


def test_upsert_security_adds_then_updates_without_erasing():
    from datetime import date
    from decimal import Decimal

    from equity_rules.models import Security

    api.upsert_security("acme", name="Acme Corp", equity_type="common_stock", exchange="XNAS",
                        sector="Industrials", average_volume=Decimal("1200000"), listing_date=date(2026, 11, 20))
    Security.objects.filter(symbol="ACME").update(last_close=Decimal("21.50"))
    api.upsert_security("ACME", name="Acme Corporation", equity_type="common_stock", exchange="XNAS")

    acme = Security.objects.get(symbol="ACME")
    assert (acme.name, acme.sector, acme.average_volume, acme.listing_date, acme.last_close) == (
        "Acme Corporation", "Industrials", Decimal("1200000"), date(2026, 11, 20), Decimal("21.50"))
    with pytest.raises(LookupError, match="unknown equity type 'spac' for ZZZ; known: .*etf"):
        api.upsert_security("ZZZ", name="Z", equity_type="spac", exchange="XNAS")
    assert not Security.objects.filter(symbol="ZZZ").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_from_two_connections_let_exactly_one_win():
    """Two editors on version 1 commit at the same moment: one version 2, one clear refusal, no lost update."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(2)
    outcomes = []

    def edit(priority: int) -> None:
        try:
            copy = EquityType.objects.get(equity_type="reit")
            copy.priority_level = priority
            barrier.wait()
            with transaction.atomic():
                versions.save(copy)
            outcomes.append(("saved", priority))
        except StaleRulesError as error:
            outcomes.append(("refused", str(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(p,)) for p in (6, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    saved = [o for o in outcomes if o[0] == "saved"]
    refused = [o for o in outcomes if o[0] == "refused"]
    assert len(saved) == 1 and len(refused) == 1, outcomes
    reit = EquityType.objects.get(equity_type="reit")
    assert (reit.version, reit.priority_level) == (2, saved[0][1])
    assert "while you were editing version 1" in refused[0][1]
