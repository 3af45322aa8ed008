import json

import pytest
from django.urls import reverse

from equity_rules import versions
from equity_rules.models import EquityType, ProcessingJob
from equity_rules.tests.conftest import make_security
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db


def change_url(equity_type: EquityType) -> str:
    return reverse("admin:equity_rules_equitytype_change", args=[equity_type.pk])


def form_data(equity_type: EquityType, **overrides) -> dict:
    data = {"name": equity_type.name, "priority_level": equity_type.priority_level,
            "processing_rules": json.dumps(equity_type.processing_rules),
            "retry_config": json.dumps(equity_type.retry_config),
            "performance_targets": json.dumps(equity_type.performance_targets),
            "based_on_version": equity_type.version}
    data.update(overrides)
    return data


def test_the_change_page_shows_pretty_printed_json_in_the_editor(admin_client_logged_in):
    etf = EquityType.objects.get(equity_type="etf")
    page = admin_client_logged_in.get(change_url(etf)).content.decode()
    assert 'class="json-editor"' in page
    assert "equity_rules/json_editor.js" in page
    assert '&quot;validation_rules&quot;: {\n    &quot;aum_minimum&quot;: 50000000,' in page
    assert 'name="based_on_version" value="1"' in page


def test_an_edit_saves_a_new_version_and_publishes(admin_client_logged_in):
    etf = EquityType.objects.get(equity_type="etf")
    new_rules = dict(etf.processing_rules, update_frequency="5m")
    response = admin_client_logged_in.post(change_url(etf), form_data(
        etf, processing_rules=json.dumps(new_rules), change_reason="fund data only every 5 minutes"))
    assert response.status_code == 302
    etf.refresh_from_db()
    assert (etf.version, etf.processing_rules["update_frequency"]) == (2, "5m")
    latest = etf.history.order_by("-history_id").first()
    assert (latest.history_user.username, latest.history_change_reason) == ("alice", "fund data only every 5 minutes")
    event = OutboxEvent.objects.get(type="tickstock.config.rules_updated")
    assert event.payload == {"equity_type": "etf", "version": 2, "previous_version": 1, "changed_by": "alice",
                             "change_reason": "fund data only every 5 minutes"}


def test_saving_an_unchanged_form_makes_no_version(admin_client_logged_in):
    etf = EquityType.objects.get(equity_type="etf")
    assert admin_client_logged_in.post(change_url(etf), form_data(etf, change_reason="just looking")).status_code == 302
    assert EquityType.objects.get(pk=etf.pk).version == 1
    assert not OutboxEvent.objects.filter(type="tickstock.config.rules_updated").exists()


@pytest.mark.parametrize(("field", "text", "message", "kept"), [
    ("processing_rules", '{"data_sources": ["polygon"],', "invalid JSON at line 1, column 30: Expecting",
     "{&quot;data_sources&quot;: [&quot;polygon&quot;],"),
    ("retry_config", '{"max_retries": NaN, "backoff_multiplier": 2}', "invalid JSON: NaN is not a JSON number",
     "{&quot;max_retries&quot;: NaN, &quot;backoff_multiplier&quot;: 2}"),
    ("retry_config", '{"max_retries": 1, "max_retries": 9, "backoff_multiplier": 2}',
     "invalid JSON: key &#x27;max_retries&#x27; appears twice in one object", "&quot;max_retries&quot;: 9"),
    ("processing_rules", None, "processing_rules.validation_rules.aum_minimum: must be a number ≥ 0, not -10",
     "&quot;aum_minimum&quot;: -10"),
    ("performance_targets", '{"processing_time_ms": "fast", "success_rate": 99}',
     "performance_targets.processing_time_ms: must be a number, not &quot;fast&quot;", "&quot;fast&quot;"),
    ("retry_config", '{"max_retries": 3, "backoff_multiplier": 2, "retries_forever": true}',
     "retry_config: unknown key &#x27;retries_forever&#x27;", "&quot;retries_forever&quot;: true"),
    ("performance_targets", '{"processing_time_ms": 1e12, "success_rate": 99}',
     "performance_targets.processing_time_ms: must be a number ≤ 3,600,000", "1000000000000.0"),
])
def test_bad_rules_show_a_readable_error_and_save_nothing(admin_client_logged_in, field, text, message, kept):
    etf = EquityType.objects.get(equity_type="etf")
    if text is None:
        broken = json.loads(json.dumps(etf.processing_rules))
        broken["validation_rules"]["aum_minimum"] = -10
        text = json.dumps(broken)
    response = admin_client_logged_in.post(change_url(etf), form_data(etf, **{field: text}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert kept in response.content.decode()  # what the operator typed stays in the editor, to be fixed
    assert EquityType.objects.get(pk=etf.pk).version == 1
    assert not OutboxEvent.objects.filter(type="tickstock.config.rules_updated").exists()


def test_an_edit_based_on_a_stale_version_is_refused_with_who_changed_it(admin_client_logged_in, django_user_model):
    etf = EquityType.objects.get(equity_type="etf")
    stale_form = form_data(etf, priority_level=4)
    bob = django_user_model.objects.create_user("bob")
    etf.priority_level = 2
    versions.save(etf, user=bob)

    response = admin_client_logged_in.post(change_url(etf), stale_form)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Not saved: etf was changed to version 2 by bob" in page
    assert "while you were editing version 1" in page
    stored = EquityType.objects.get(pk=etf.pk)
    assert (stored.version, stored.priority_level) == (2, 2)


def test_history_lists_versions_with_who_and_changes_then_diff_and_rollback(admin_client_logged_in):
    etf = EquityType.objects.get(equity_type="etf")
    rules_v2 = json.loads(json.dumps(etf.processing_rules))
    rules_v2["validation_rules"]["volume_threshold"] = 250000
    admin_client_logged_in.post(change_url(etf), form_data(etf, processing_rules=json.dumps(rules_v2)))

    history = admin_client_logged_in.get(reverse("admin:equity_rules_equitytype_history", args=[etf.pk]))
    page = history.content.decode()
    assert "<code>processing_rules.validation_rules.volume_threshold</code>: 100000 &rarr; 250000" in page
    assert "alice" in page and "seed data" in page

    diff = admin_client_logged_in.get(reverse("admin:equity_rules_diff", args=[etf.pk]), {"from": 1, "to": 2})
    assert "<code>processing_rules.validation_rules.volume_threshold</code>" in diff.content.decode()
    assert "<code>100000</code>" in diff.content.decode() and "<code>250000</code>" in diff.content.decode()

    rollback_url = reverse("admin:equity_rules_rollback", args=[etf.pk, 1])
    confirm = admin_client_logged_in.get(rollback_url)
    assert "Yes, roll back to version 1" in confirm.content.decode()
    done = admin_client_logged_in.post(rollback_url, {"based_on_version": 2}, follow=True)
    assert "Rolled etf back to version 1: now version 3" in done.content.decode()
    etf.refresh_from_db()
    assert (etf.version, etf.processing_rules["validation_rules"]["volume_threshold"]) == (3, 100000)
    assert OutboxEvent.objects.filter(type="tickstock.config.rules_updated").last().payload["changed_by"] == "alice"


def test_a_rollback_confirmed_on_a_stale_page_is_refused(admin_client_logged_in):
    etf = EquityType.objects.get(equity_type="etf")
    etf.priority_level = 2
    versions.save(etf)
    response = admin_client_logged_in.post(reverse("admin:equity_rules_rollback", args=[etf.pk, 1]),
                                           {"based_on_version": 1}, follow=True)
    assert "while you were editing version 1" in response.content.decode()
    assert EquityType.objects.get(pk=etf.pk).version == 2


def test_diff_of_an_unknown_version_says_so(admin_client_logged_in):
    etf = EquityType.objects.get(equity_type="etf")
    response = admin_client_logged_in.get(reverse("admin:equity_rules_diff", args=[etf.pk]), {"from": 1, "to": 9},
                                          follow=True)
    assert "Cannot compare: etf has no version 9" in response.content.decode()


def test_the_changelist_shows_sla_and_queue_columns(admin_client_logged_in):
    page = admin_client_logged_in.get(reverse("admin:equity_rules_equitytype_changelist")).content.decode()
    assert "P50 / p95 (ms)" in page and "Success %" in page and "Closed-End Fund" in page


def test_job_admin_actions_retry_dead_and_cancel_queued_jobs(admin_client_logged_in):
    spy = make_security("SPY")
    etf = spy.equity_type
    dead = ProcessingJob.objects.create(security=spy, symbol="SPY", equity_type=etf, state="dead", attempts=4,
                                        max_attempts=4, last_error="boom")
    queued = ProcessingJob.objects.create(security=spy, symbol="SPY", equity_type=etf)
    url = reverse("admin:equity_rules_processingjob_changelist")

    admin_client_logged_in.post(url, {"action": "retry_jobs", "_selected_action": [dead.pk, queued.pk]})
    admin_client_logged_in.post(url, {"action": "cancel_jobs", "_selected_action": [queued.pk]})

    dead.refresh_from_db()
    queued.refresh_from_db()
    assert (dead.state, dead.attempts, dead.last_error) == ("queued", 0, "boom")
    assert queued.state == "cancelled"


def test_security_admin_enqueues_and_reports_a_full_queue(admin_client_logged_in, settings):
    spy = make_security("SPY")
    url = reverse("admin:equity_rules_security_changelist")
    response = admin_client_logged_in.post(url, {"action": "enqueue_processing", "_selected_action": [spy.pk]},
                                           follow=True)
    assert "1 jobs queued." in response.content.decode()
    settings.EQUITY_RULES_QUEUE_BOUND = 1
    response = admin_client_logged_in.post(url, {"action": "enqueue_processing", "_selected_action": [spy.pk]},
                                           follow=True)
    assert "Queue for etf is full: 1 jobs wait" in response.content.decode()
    assert ProcessingJob.objects.count() == 1


def test_security_admin_refuses_negative_figures_and_bad_sector_weights(admin_client_logged_in):
    spy = make_security("SPY")
    url = reverse("admin:equity_rules_security_change", args=[spy.pk])
    data = {"symbol": "SPY", "name": "SPDR", "equity_type": spy.equity_type_id, "exchange": "ARCX", "sector": "",
            "aum": "-5", "expense_ratio": "0.09", "nav": "598.1", "last_close": "598.3", "average_volume": "100",
            "shares_outstanding": "10", "dividend_per_share": "", "sector_weights": '{"Energy": 140, "Tech": "x"}',
            "listing_date": "", "is_active": "on"}
    page = admin_client_logged_in.post(url, data).content.decode()
    assert "Ensure this value is greater than or equal to 0." in page
    assert "each weight must be a percentage from 0 to 100, not &#x27;Energy&#x27;: 140, &#x27;Tech&#x27;: " in page
    spy.refresh_from_db()
    assert spy.aum == 560_000_000_000 and spy.sector_weights == {}

    response = admin_client_logged_in.post(url, {**data, "aum": "1000", "sector_weights": '{"Energy": 60}'})
    assert response.status_code == 302
    spy.refresh_from_db()
    assert spy.aum == 1000 and spy.sector_weights == {"Energy": 60}
