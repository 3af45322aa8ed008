"""The operator-facing details of the dashboard: the alert filter, silences, one clock, 404s, verdicts and formats."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from dashboard import alert_list, panels
from dashboard.templatetags.ops import money_short
from equity_rules.models import EquityType, SlaStatus
from monitors.ipo.models import IPO
from monitors.quality.models import Bar, Scan
from tickstock_ops import alerts, silences
from tickstock_ops.models import Alert, Silence

pytestmark = pytest.mark.django_db


def spike(symbol: str, source: str = "feed-b", interval: str = "1m") -> Alert:
    return alerts.fire(f"quality:volume_spike:{symbol}:{interval}", source="quality", title=f"{symbol} volume spike",
                       labels={"symbol": symbol, "anomaly_type": "volume_spike", "interval": interval,
                               "source": source})


def shown(client, query: str = "") -> str:
    return client.get(f"/panel/overview/alerts/{query}").content.decode()


def test_the_alert_filter_takes_matchers_and_words_and_lives_in_the_url(staff_client):
    spike("AAA"), spike("BBB", source="feed-a"), spike("CCC", interval="1d")
    alerts.fire("ipo:source:sec", source="ipo", title="IPO source sec failed: HTTP 503", labels={"source": "sec"})

    assert "BBB volume spike" not in shown(staff_client, "?q=type%3Dvolume_spike+source%3Dfeed-b")
    page = shown(staff_client, "?q=type%3Dvolume_spike+source%3Dfeed-b")
    assert "AAA volume spike" in page and "CCC volume spike" in page and "IPO source" not in page
    page = shown(staff_client, "?q=symbol%3D~%22A.*%7CB.*%22+interval!%3D1d")
    assert "AAA" in page and "BBB" in page and "CCC volume" not in page
    assert "IPO source sec" in shown(staff_client, "?q=HTTP+503") and "AAA" not in shown(staff_client, "?q=503")
    bad = shown(staff_client, "?q=symbol%3D~%22((%22")
    assert "bad regular expression" in bad and "AAA volume spike" not in bad
    assert 'value="type=volume_spike source=feed-b"' in staff_client.get(
        "/?q=type%3Dvolume_spike+source%3Dfeed-b").content.decode()


def test_toggles_hide_silenced_and_acknowledged_and_show_inhibited(staff_client):
    spike("AAA")
    acked = spike("BBB")
    silences.create("symbol=AAA", ends_at=timezone.now() + timedelta(hours=1), comment="known")
    alerts.acknowledge(acked, staff_client.user)
    labels = {"anomaly_type": "data_stale", "source": "feed-a", "interval": "1m"}
    alerts.fire("quality:data_stale:source:feed-a:1m", source="quality", title="source feed-a is stale",
                severity="critical", labels=labels)
    alerts.fire("quality:data_stale:CCC:1m", source="quality", title="CCC stale", labels={**labels, "symbol": "CCC"})
    assert "AAA volume" in shown(staff_client) and "BBB volume" in shown(staff_client)
    assert "AAA volume" not in shown(staff_client, "?silenced=0")
    assert "BBB volume" not in shown(staff_client, "?acknowledged=0")
    assert "AAA volume" in shown(staff_client, "?q=silenced%3Dtrue") and "BBB" not in shown(
        staff_client, "?q=silenced%3Dtrue")
    assert "CCC stale" not in shown(staff_client) and "inhibits 1" in shown(staff_client)
    assert "CCC stale" in shown(staff_client, "?inhibited=1")


def test_the_resolved_view_and_tiles_that_link_to_what_they_count(staff_client):
    alert = spike("AAA")
    alerts.resolve(alert.fingerprint)
    assert "AAA volume spike" not in shown(staff_client)
    assert "AAA volume spike" in shown(staff_client, "?view=resolved")
    tiles = staff_client.get("/panel/overview/severity/").content.decode()
    assert 'href="/?view=resolved"' in tiles
    assert 'class="tile tile-critical"' in tiles  # zero critical firing: a neutral tile, not lit red
    assert 'tile-warning lit' not in tiles


def test_groups_are_titled_with_their_interval_and_offer_silence_similar(staff_client):
    spike("DAD", interval="1m"), spike("DAD", interval="1d")
    groups = alert_list.groups(list(Alert.objects.all()))
    assert sorted((g["type"], g["interval"], g["count"]) for g in groups) == [
        ("volume_spike", "1d", 1), ("volume_spike", "1m", 1)]
    page = shown(staff_client)
    assert "volume spike · 1m" in page and "volume spike · 1d" in page
    assert 'data-matchers="monitor=quality, type=volume_spike, interval=1m"' in page


def test_a_resolve_of_a_condition_still_present_needs_confirmation(staff_client):
    alert = spike("AAA")
    scan = Scan.objects.create(interval="1m", as_of=timezone.now(), symbols_scanned=1)
    Alert.objects.filter(pk=alert.pk).update(labels={**alert.labels, "scan_id": scan.pk})
    headers = {"Accept": "application/json"}
    refused = staff_client.post(f"/alerts/{alert.pk}/resolve/", headers=headers)
    assert refused.status_code == 400 and "will reopen at the next check" in refused.json()["error"]
    assert Alert.objects.get(pk=alert.pk).state == "firing"
    assert "data-confirm=" in shown(staff_client)
    done = staff_client.post(f"/alerts/{alert.pk}/resolve/", {"confirmed": "1"}, headers=headers)
    assert done.status_code == 200 and Alert.objects.get(pk=alert.pk).state == "resolved"

    older = spike("BBB")  # a later scan did not see it: no question asked
    Scan.objects.create(interval="1m", as_of=timezone.now(), symbols_scanned=1)
    Alert.objects.filter(pk=older.pk).update(labels={**older.labels, "scan_id": scan.pk})
    assert staff_client.post(f"/alerts/{older.pk}/resolve/", headers=headers).status_code == 200


def test_silences_are_created_listed_edited_and_expired_on_the_dashboard(staff_client):
    alert = spike("AAA")
    headers = {"Accept": "application/json"}
    bad = staff_client.post("/silences/new/", {"matchers": "exchange!=XNAS", "hours": "2", "comment": "x"},
                            headers=headers)
    assert bad.status_code == 400 and "would match every alert" in bad.json()["error"]
    assert Silence.objects.count() == 0
    preview = staff_client.get("/silences/preview/", {"matchers": "source=feed-b"}).json()
    assert preview == {"ok": True, "count": 1, "titles": ["AAA volume spike"]}

    made = staff_client.post("/silences/new/", {"matchers": "source=feed-b", "hours": "2", "comment": "replay"},
                             headers=headers).json()
    assert made["ok"] and made["muted"] == 1
    silence = Silence.objects.get()
    listing = staff_client.get("/silences/").content.decode()
    assert "source=feed-b" in listing and "replay" in listing and "operator" in listing

    ends = (timezone.now() + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")
    response = staff_client.post(f"/silences/{silence.pk}/", {"matchers": "source=feed-b, symbol=AAA",
                                                              "ends_at": ends, "comment": "longer"})
    assert response.status_code == 302
    silence.refresh_from_db()
    assert silence.matchers_text == "source=feed-b, symbol=AAA" and silence.comment == "longer"
    assert staff_client.post(f"/silences/{silence.pk}/expire/").status_code == 302
    alert.refresh_from_db()
    assert not alert.is_silenced() and Silence.objects.get().state() == "expired"
    assert staff_client.get("/silences/999/").status_code == 404


def test_an_unknown_alert_is_a_proper_404_page_even_with_debug_on(staff_client, settings):
    settings.DEBUG = True
    response = staff_client.get("/alerts/987654/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is no alert #987654" in page and "TickStock Ops" in page and "URLconf" not in page


def test_the_alert_page_has_its_runbook(staff_client):
    alert = spike("AAA")
    page = staff_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Runbook" in page and "at least 5 times its baseline" in page and "Check first" in page


def test_the_clock_is_kept_per_user_and_tables_follow_it(staff_client):
    alert = spike("AAA")
    Alert.objects.filter(pk=alert.pk).update(last_seen=datetime(2026, 11, 27, 15, 32, 5, tzinfo=UTC))
    assert "11-27 15:32:05" in shown(staff_client)
    staff_client.post("/clock/", {"zone": "America/New_York", "next": "/"})
    assert "11-27 10:32:05" in shown(staff_client)
    other = Client()
    other.force_login(get_user_model().objects.create_user("second", password="pw-for-tests", is_staff=True))
    assert "11-27 15:32:05" in other.get("/panel/overview/alerts/").content.decode()
    assert staff_client.post("/clock/", {"zone": "Mars/Olympus", "next": "/"}).status_code == 302
    assert "11-27 10:32:05" in shown(staff_client)


def test_daily_charts_break_at_a_missing_session_but_not_at_weekends_or_holidays():
    sessions = [datetime(2025, 7, d, tzinfo=UTC) for d in (1, 2, 3, 7, 9)]  # July 4th is a holiday; 8th missing
    Bar.objects.bulk_create([Bar(symbol="AAA", source="demo", interval="1d", ts=ts, open=1, high=1, low=1, close=1,
                                 volume=1) for ts in sessions])
    chart = panels.symbol_detail("AAA")["chart"]
    assert chart["close"] == [1, 1, 1, 1, None, 1]
    assert datetime.fromtimestamp(chart["t"][4], UTC) == datetime(2025, 7, 8, tzinfo=UTC)


def test_sla_verdicts_say_too_few_samples_on_the_dashboard_as_in_the_admin(staff_client, admin_client):
    etf = EquityType.objects.get(equity_type="etf")
    SlaStatus.objects.create(equity_type=etf, window_minutes=60, samples=4, p50_ms=10, p95_ms=12, success_rate=100,
                             target_processing_time_ms=500, target_success_rate=99.5, breaches=[])
    page = staff_client.get("/rules/").content.decode()
    assert "too few samples to judge" in page and "4 attempts in the last 60 min" in page
    assert "within target" not in page.split('data-type="etf"')[1].split("</tr>")[0]
    assert "too few samples to judge" in admin_client.get("/admin/equity_rules/equitytype/").content.decode()


def test_ipo_tables_format_market_cap_and_say_why_not_eligible(staff_client):
    assert (money_short(2328000000), money_short(45_600_000), money_short(None)) == ("$2.33B", "$45.60M", "")
    IPO.objects.create(ticker="NEWC", company_name="New Co Inc.", exchange="XNAS", status="expected",
                       expected_date=timezone.localdate() + timedelta(days=3), market_cap_estimate=2328000000,
                       eligible=False, eligibility_reason="no offer price yet")
    page = staff_client.get("/ipos/").content.decode()
    assert "$2.33B" in page and "2328000000<" not in page and "no offer price yet" in page
    assert "No runs yet" in page and ("Next:" in page or "No scan is scheduled" in page)


def test_admin_and_login_are_branded_and_there_is_a_favicon(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "TickStock Ops" in page and "Django administration" not in page and "favicon.svg" in page
    login = Client().get("/admin/login/").content.decode()
    assert "TickStock Ops" in login and "Django administration" not in login
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 302 and icon["Location"].endswith("favicon.svg")
