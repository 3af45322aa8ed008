"""Rule documents an attacker or a broken script might send: refused with a form error, never an HTTP 500."""

import json

import pytest
from django.urls import reverse

from equity_rules.models import EquityType, Security
from equity_rules.tests.conftest import make_security
from tickstock_ops.models import OutboxEvent

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a": ' * 10_000 + "1" + "}" * 10_000


def post_rules(client, etf: EquityType, field: str, text: str):
    data = {"name": etf.name, "priority_level": etf.priority_level,
            "processing_rules": json.dumps(etf.processing_rules), "retry_config": json.dumps(etf.retry_config),
            "performance_targets": json.dumps(etf.performance_targets), "based_on_version": etf.version,
            field: text}
    return client.post(reverse("admin:equity_rules_equitytype_change", args=[etf.pk]), data)


@pytest.mark.parametrize(("field", "text", "message"), [
    ("processing_rules", DEEP, "nested deeper than 20 levels"),
    ("retry_config", DEEP_OBJECT, "nested deeper than 20 levels"),
    ("performance_targets", '{"processing_time_ms": 5, "success_rate": 99, "\\ud800": 1}',
     "a lone surrogate (\\ud800) is not a character"),
    ("processing_rules", '{"data_sources": ["\\udfff"], "update_frequency": "daily", "validation_rules": {},'
                         ' "enrichment": {}}', "a lone surrogate (\\udfff) is not a character"),
    ("retry_config", '{"max_retries": 1, "backoff_multiplier": 2e400}', "2e400 is not a finite JSON number"),
    ("processing_rules", '{"data_sources": ["a\\u0000"], "update_frequency": "daily", "validation_rules": {},'
                         ' "enrichment": {}}', "\\u0000 (NUL) is not allowed in text"),
])
def test_hostile_rule_documents_get_a_form_error(admin_client_logged_in, field, text, message):
    etf = EquityType.objects.get(equity_type="etf")
    response = post_rules(admin_client_logged_in, etf, field, text)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert EquityType.objects.get(pk=etf.pk).version == 1
    assert not OutboxEvent.objects.filter(type="tickstock.config.rules_updated").exists()


def test_sector_weights_with_a_lone_surrogate_get_a_form_error(admin_client_logged_in):
    spy = make_security("SPY")
    url = reverse("admin:equity_rules_security_change", args=[spy.pk])
    page = admin_client_logged_in.get(url)
    form = {field.name: field.value() if field.value() is not None else ""
            for field in page.context["adminform"].form}
    form.update(sector_weights='{"Tech\\ud83d": 31.2}', equity_type=spy.equity_type_id)
    response = admin_client_logged_in.post(url, {k: v for k, v in form.items() if v is not False})
    assert response.status_code == 200
    assert "a lone surrogate (\\ud83d) is not a character" in response.content.decode()
    assert Security.objects.get(pk=spy.pk).sector_weights == {}
