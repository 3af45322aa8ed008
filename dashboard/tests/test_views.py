import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.utils import timezone

from dashboard import alert_list, panels
from equity_rules.models import EquityType, ProcessingJob, Security, SlaStatus
from monitors.ipo.models import IPO
from monitors.quality.models import Anomaly, Bar, Report, Scan
from tickstock_ops import alerts, events, testing
from tickstock_ops.models import Alert

pytestmark = pytest.mark.django_db

PAGES = ["/", "/ipos/", "/quality/", "/quality/AAA/", "/rules/", "/panel/overview/alerts/"]


@pytest.fixture
def quality_data():
    day = datetime(2025, 6, 30, tzinfo=UTC)
    scan = Scan.objects.create(interval="1d", as_of=day, symbols_scanned=2, anomaly_count=1, duration_s=0.42,
                               mean_scores={"overall_score": 82.5}, anomaly_counts={"volume_spike": 1})
    report = Report.objects.create(scan=scan, symbol="AAA", price_score=100, volume_score=65, freshness_score=100,
                                   overall_score=65)
    Report.objects.create(scan=scan, symbol="BBB", price_score=100, volume_score=100, freshness_score=100,
                          overall_score=100)
    Bar.objects.bulk_create([Bar(symbol="AAA", source="demo", interval="1d", ts=day - timedelta(days=n), open=10,
                                 high=11, low=9, close=10 + n, volume=1000) for n in range(5)])
    Anomaly.objects.create(report=report, symbol="AAA", anomaly_type="volume_spike", severity="warning",
                           interval="1d", ts=day - timedelta(days=1), value=9.5, threshold=5,
                           detail="volume 9,500 is ×9.5 its trailing average")
    return scan


def test_an_anonymous_visitor_is_sent_to_the_login_page():
    client = Client()
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=")


def test_a_user_who_is_not_staff_is_sent_to_the_login_page():
    client = Client()
    client.force_login(get_user_model().objects.create_user("viewer", password="pw-for-tests-only"))
    assert client.get("/").status_code == 302


def test_the_overview_shows_firing_alerts_by_severity_health_and_scans(staff_client, quality_data):
    alerts.fire("ipo:source:sec", source="ipo", title="IPO source sec failed: 503", severity="critical")
    alerts.fire("quality:volume_spike:AAA", source="quality", title="AAA volume spike",
                labels={"symbol": "AAA", "anomaly_type": "volume_spike"})
    silenced = alerts.fire("quality:price_gap:BBB", source="quality", title="BBB gap",
                           labels={"symbol": "BBB", "anomaly_type": "price_gap"})
    alerts.silence(silenced, staff_client.user, timezone.now() + timedelta(hours=1), "known")

    page = staff_client.get("/").content.decode()

    assert panels.firing_by_severity() == {"critical": 1, "warning": 1, "info": 0}
    assert "IPO source sec failed: 503" in page and "AAA volume spike" in page
    assert "silenced until" in page and "quality full 1d" in page and "0.42 s" in page
    assert '"database"' not in page and "reachable" in page


def test_alerts_are_grouped_by_type_and_exchange(quality_data):
    etf = EquityType.objects.get(equity_type="etf")
    for symbol, exchange in (("AAA", "XNAS"), ("BBB", "XNAS"), ("CCC", "XNYS")):
        Security.objects.create(symbol=symbol, name=symbol, equity_type=etf, exchange=exchange)
        alerts.fire(f"quality:volume_spike:{symbol}", source="quality", title=f"{symbol} spike",
                    labels={"symbol": symbol, "anomaly_type": "volume_spike"})

    groups = alert_list.groups(list(Alert.objects.all()))

    assert sorted((g["type"], g["exchange"], g["count"]) for g in groups) == [
        ("volume_spike", "XNAS", 2), ("volume_spike", "XNYS", 1)]


def test_the_ipo_page_shows_the_pipeline_and_upcoming_listings(staff_client):
    soon = timezone.localdate() + timedelta(days=3)
    IPO.objects.create(ticker="NEWC", company_name="New Co Inc.", exchange="XNAS", status="expected",
                       expected_date=soon, sources=["nasdaq", "sec"])
    IPO.objects.create(ticker="OLDC", company_name="Old Co Inc.", exchange="XNYS", status="trading",
                       listing_date=soon - timedelta(days=30), sources=["polygon"])

    page = staff_client.get("/ipos/").content.decode()

    assert [(s["status"], s["count"]) for s in panels.ipo_pipeline()][:4] == [
        ("filed", 0), ("expected", 1), ("priced", 0), ("trading", 1)]
    assert [ipo.ticker for ipo in panels.upcoming_listings()] == ["NEWC"]
    assert "New Co Inc." in page and soon.isoformat() in page and ">sec<" in page


def test_the_quality_pages_chart_the_latest_scan_the_trend_and_a_symbol(staff_client, quality_data):
    page = staff_client.get("/quality/").content.decode()
    assert 'id="score-distribution"' in page and 'id="quality-trend"' in page

    assert panels.score_distribution(quality_data)[0] == {"label": "0–50", "count": 0}
    assert sum(b["count"] for b in panels.score_distribution(quality_data)) == 2
    trend = panels.quality_trend()
    assert len(trend["days"]) == 30 and trend["types"]["volume_spike"][-2] == 1

    detail = panels.symbol_detail("AAA")
    assert detail["chart"]["close"] == [14, 13, 12, 11, 10]
    [marker] = detail["chart"]["markers"]
    assert marker["close"] == 11 and marker["type"] == "volume_spike"
    assert 'id="price-data"' in staff_client.get("/quality/AAA/").content.decode()
    assert staff_client.get("/quality/?symbol=aaa")["Location"] == "/quality/AAA/"
    assert staff_client.get("/quality/AAA/?interval=2w").status_code == 404


def test_the_rules_page_shows_sla_against_targets_and_dead_letters(staff_client):
    etf = EquityType.objects.get(equity_type="etf")
    SlaStatus.objects.create(equity_type=etf, window_minutes=60, samples=50, p50_ms=120, p95_ms=900,
                             success_rate=99.9, target_processing_time_ms=500, target_success_rate=99.5,
                             breaches=[{"metric": "processing_time_ms", "target": 500, "actual": 900}])
    security = Security.objects.create(symbol="SPYX", name="SPY X", equity_type=etf, exchange="XNYS")
    ProcessingJob.objects.create(security=security, symbol="SPYX", equity_type=etf, state="dead", attempts=3,
                                 max_attempts=3, last_error="nav missing", finished_at=timezone.now())
    ProcessingJob.objects.create(security=security, symbol="SPYX", equity_type=etf)

    page = staff_client.get("/rules/").content.decode()

    assert "breach" in page and "900.0" in page and "nav missing" in page
    [row] = [r for r in panels.queue_by_type() if r["type"] == "etf"]
    assert row["queued"] == 1 and row["dead"] == 1 and row["due"] == 1
    assert "/admin/equity_rules/processingjob/" in page


def test_a_panel_is_rendered_alone_and_an_unknown_one_is_404(staff_client):
    alerts.fire("ipo:source:news", source="ipo", title="news feed down")
    assert "news feed down" in staff_client.get("/panel/overview/alerts/").content.decode()
    assert staff_client.get("/panel/overview/nope/").status_code == 404
    assert staff_client.get("/panel/nope/alerts/").status_code == 404


def csrf_client(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")
    return client, client.cookies["csrftoken"].value


def test_dashboard_actions_need_the_csrf_token(staff_client):
    alert = alerts.fire("ipo:source:sec", source="ipo", title="SEC down")
    client, token = csrf_client(staff_client.user)

    refused = client.post(f"/alerts/{alert.pk}/acknowledge/")
    accepted = client.post(f"/alerts/{alert.pk}/acknowledge/", {"csrfmiddlewaretoken": token, "next": "/ipos/"})

    assert refused.status_code == 403
    assert accepted.status_code == 302 and accepted["Location"] == "/ipos/"
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == staff_client.user


def test_silence_from_the_dashboard_and_its_errors(staff_client):
    alert = alerts.fire("ipo:source:sec", source="ipo", title="SEC down")
    url = f"/alerts/{alert.pk}/silence/"
    headers = {"Accept": "application/json"}

    for data, message in (({"hours": "x", "reason": "r"}, "in hours"), ({"hours": "0", "reason": "r"}, "between"),
                          ({"hours": "2", "reason": ""}, "needs a reason")):
        response = staff_client.post(url, data, headers=headers)
        assert response.status_code == 400 and message in response.json()["error"]
    alert.refresh_from_db()
    assert alert.silenced_until is None

    response = staff_client.post(url, {"hours": "2", "reason": "vendor incident"}, headers=headers)
    assert response.json() == {"ok": True, "state": "firing", "silenced": True}
    alert.refresh_from_db()
    assert alert.silence_reason == "vendor incident" and alert.silenced_by == staff_client.user
    detail = staff_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "vendor incident" in detail and "silenced" in detail and "operator" in detail


def test_an_action_never_redirects_off_site_and_get_is_refused(staff_client):
    alert = alerts.fire("ipo:source:sec", source="ipo", title="SEC down")
    response = staff_client.post(f"/alerts/{alert.pk}/resolve/", {"next": "https://evil.example/", "confirmed": "1"})
    assert response["Location"] == "/"
    assert Alert.objects.get(pk=alert.pk).state == "resolved"
    assert staff_client.get(f"/alerts/{alert.pk}/resolve/").status_code == 405
    assert staff_client.post(f"/alerts/{alert.pk}/explode/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_feed_summarises_events_and_the_page_knows_the_last_one(staff_client):
    with transaction.atomic():
        event = events.publish("tickstock.ipo.detected", {"ticker": "NEWC", "company_name": "New Co", "status":
                                                          "expected"})
    page = staff_client.get("/").content.decode()
    assert "NEWC · New Co · expected" in page
    assert f'data-last-seq="{event.id}"' in page


def test_production_settings_pass_the_deploy_check():
    env = testing.process_env(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="ops.example.com")
    result = testing.run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = testing.process_env(DEBUG="0", ALLOWED_HOSTS="ops.example.com")
    env.pop("SECRET_KEY", None)
    result = testing.run_manage("check", env=env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_json_summary_of_an_unknown_event_is_its_payload():
    envelope = {"type": "tickstock.misc.thing", "payload": {"a": 1}}
    assert json.loads(panels.event_summary(envelope)) == {"a": 1}


def test_every_panel_renders_on_its_own_with_what_it_shows(staff_client, quality_data):
    alerts.fire("ipo:source:sec", source="ipo", title="IPO source sec failed: 503", severity="critical")
    expected = {
        ("overview", "severity"): "critical firing", ("overview", "alerts"): "IPO source sec failed: 503",
        ("overview", "activity"): "fired", ("overview", "health"): "reachable",
        ("overview", "scans"): "quality full 1d", ("ipos", "pipeline"): "expected",
        ("ipos", "ipo_sources"): "IPO source sec failed: 503", ("quality", "quality_latest"): "score-distribution",
        ("quality", "worst"): "AAA", ("quality", "anomalies"): "volume_spike", ("rules", "sla"): "etf",
        ("symbol", "symbol_chart"): "price-data", ("symbol", "symbol_tables"): "volume_spike",
    }
    for (page, name), text in expected.items():
        response = staff_client.get(f"/panel/{page}/{name}/", {"symbol": "AAA"} if page == "symbol" else {})
        assert response.status_code == 200, (page, name)
        assert text in response.content.decode(), (page, name)
