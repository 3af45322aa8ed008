import pytest
from django.utils import timezone

from monitors.quality import bulk_insert
from monitors.quality.models import Anomaly, Report, Scan

pytestmark = pytest.mark.django_db


def test_rows_with_awkward_text_nulls_json_and_nan_are_stored_as_given():
    scan = Scan.objects.create(interval="1d", as_of=timezone.now())
    bulk_insert.insert(Report, [
        {"scan_id": scan.pk, "symbol": "BRK.B", "equity_type": "", "price_score": 100.0, "volume_score": 80.5,
         "freshness_score": 0.0, "overall_score": 70.25,
         "recommendations": ["tab\there", "new\nline", "back\\slash \\N", "ünïcode ✓"]},
        {"scan_id": scan.pk, "symbol": "X", "price_score": 1, "volume_score": 2, "freshness_score": 3,
         "overall_score": 4},
    ])
    stored = {report.symbol: report for report in Report.objects.filter(scan=scan)}
    assert stored["BRK.B"].recommendations == ["tab\there", "new\nline", "back\\slash \\N", "ünïcode ✓"]
    assert stored["BRK.B"].equity_type == "" and stored["BRK.B"].overall_score == 70.25
    assert stored["X"].recommendations == [] and stored["X"].price_score == 1.0

    moment = timezone.now().replace(microsecond=123456)
    bulk_insert.insert(Anomaly, [
        {"report_id": stored["X"].pk, "symbol": "X", "anomaly_type": "price_gap", "severity": "warning",
         "interval": "1m", "ts": moment, "value": None, "threshold": 0.5, "detail": "gap\t+12%",
         "context": {"ratio": "2:1", "n": 1.5}, "first_seen": False},
    ])
    [anomaly] = Anomaly.objects.filter(report__scan=scan)
    assert anomaly.ts == moment and anomaly.value is None and anomaly.threshold == 0.5
    assert anomaly.detail == "gap\t+12%" and anomaly.context == {"ratio": "2:1", "n": 1.5}
    assert anomaly.first_seen is False and anomaly.source == ""


def test_nothing_to_insert_is_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        bulk_insert.insert(Report, [])
