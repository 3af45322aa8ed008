import json
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_q.models import Schedule

from config import bootstrap
from monitors.ipo import admin_actions, demo, scan, tasks
from monitors.ipo.fake_sources import Fault
from monitors.ipo.models import IPO, SourceRecord
from tickstock_ops.models import OutboxEvent
from tickstock_ops.testing import free_port, process_env, run_manage, run_manage_on_terminal

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 24)


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("ops", password="pw-ops-123")
    client.force_login(user)
    return client


def test_admin_list_filters_and_search(fake, admin_client):
    scan.scan(DAY, ["polygon", "sec", "nasdaq", "news"])
    url = reverse("admin:ipo_ipo_changelist")
    for query, present, absent in [
        ({"status__exact": "withdrawn"}, "HBVL", "NWRB"),
        ({"exchange": "XNYS"}, "CEDBU", "LMNO"),
        ({"sector": "Health Care"}, "LMNO", "CEDBU"),
        ({"source": "news"}, "NWRB", "GPEP"),
        ({"q": "2014410"}, "LMNO", "NWRB"),
        ({"q": "northwind"}, "NWRB", "LMNO"),
    ]:
        page = admin_client.get(url, query).content.decode()
        assert present in page and absent not in page, query


def test_admin_change_page_shows_raw_records_and_history(fake, admin_client):
    scan.scan(DAY, ["polygon", "sec", "nasdaq"])
    nwrb = IPO.objects.get(ticker="NWRB")
    page = admin_client.get(reverse("admin:ipo_ipo_change", args=[nwrb.pk])).content.decode()
    assert "0001193125-26-400003" in page and "1302211-111840" in page and "priced" in page


def test_admin_reenrich_and_refetch_actions(fake, admin_client, settings):
    scan.scan(DAY, ["sec"])
    lumen = IPO.objects.get(cik="2014410")
    assert lumen.ticker is None
    IPO.objects.filter(pk=lumen.pk).update(sector=None, sector_method="none")
    url = reverse("admin:ipo_ipo_changelist")
    response = admin_client.post(url, {"action": "reenrich", "_selected_action": [lumen.pk]}, follow=True)
    assert "Re-enriched 1 IPO(s)." in response.content.decode()
    lumen.refresh_from_db()
    assert lumen.sector == "Health Care"
    fake.data.submissions["2014410"]["tickers"] = ["LMNO"]
    fake.data.submissions["2014410"]["exchanges"] = ["Nasdaq"]
    response = admin_client.post(url, {"action": "refetch", "_selected_action": [lumen.pk]}, follow=True)
    assert "Re-fetched 1 IPO(s)." in response.content.decode()
    lumen.refresh_from_db()
    assert lumen.ticker == "LMNO" and lumen.exchange == "XNAS"
    assert lumen.records.filter(source="sec").count() == 3  # S-1/A, S-1 and DRS from its submissions
    settings.IPO_HTTP_RETRIES = 0
    fake.fail("/submissions/", Fault(500, "down"))
    response = admin_client.post(url, {"action": "refetch", "_selected_action": [lumen.pk]}, follow=True)
    assert "Problems:" in response.content.decode()


def test_demo_load_is_idempotent_and_offline(settings):
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: any request would fail the load
    settings.POLYGON_BASE_URL = settings.SEC_BASE_URL = settings.SEC_DATA_URL = settings.NASDAQ_BASE_URL = nowhere
    demo.load()
    counts = (IPO.objects.count(), SourceRecord.objects.count(), OutboxEvent.objects.count())
    demo.load()
    assert (IPO.objects.count(), SourceRecord.objects.count(), OutboxEvent.objects.count()) == counts
    assert counts[0] == 6
    assert IPO.objects.get(ticker="SGSW").status == "trading"
    assert set(SourceRecord.objects.values_list("source", flat=True)) == {"polygon", "sec", "nasdaq", "news"}


def test_schedules_are_created_idempotently():
    bootstrap.ensure_schedules()
    bootstrap.ensure_schedules()
    names = {"ipo: evening scan": "monitors.ipo.tasks.evening_scan",
             "ipo: pre-open scan": "monitors.ipo.tasks.morning_scan",
             "ipo: trading activity": "monitors.ipo.tasks.check_trading_activity"}
    for name, func in names.items():
        (schedule,) = Schedule.objects.filter(name=name)
        assert schedule.func == func and schedule.schedule_type == Schedule.CRON and schedule.next_run


def test_task_functions_run_the_same_code(fake, monkeypatch):
    monkeypatch.setattr(tasks, "_new_york_today", lambda: date(2026, 11, 25))
    morning = tasks.morning_scan()
    assert morning["errors"] == 0 and morning["ipos"] == 6
    evening = tasks.evening_scan()
    assert evening["errors"] == 1  # no index yet for the 25th: retryable, retried by the next run
    assert IPO.objects.get(ticker="SGSW").status == "trading"  # the morning scan's own trading check
    checked = tasks.check_trading_activity()
    # … which already saw every bar up to that (past) day: nothing left to ask Polygon
    assert checked == {"checked": 0, "started": [], "errors": [], "disabled": ""}


@pytest.mark.django_db(transaction=True)
def test_scan_command_in_a_process_of_its_own(fake):
    env_settings = fake.settings()
    env = process_env(POLYGON_BASE_URL=fake.url, POLYGON_API_KEY=fake.data.api_key, SEC_BASE_URL=fake.url,
                      SEC_DATA_URL=fake.url, NASDAQ_BASE_URL=fake.url, NEWS_FEED_URLS=env_settings["NEWS_FEED_URLS"][0],
                      POLYGON_REQUESTS_PER_MINUTE="0", SEC_REQUESTS_PER_SECOND="0")
    done = run_manage("scan_ipos", "--date", "2026-11-24", "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["ipos"]) == 6 and result["sources"]["sec"] == {"fetched": 5, "errors": 0}
    assert "scan 2026-11-24" not in done.stderr  # no progress bar when stderr is not a terminal
    again = run_manage("backfill_ipos", "--days", "3", "--end", "2026-11-24", env=env)
    assert again.returncode == 0, again.stderr
    assert "source-days already done were skipped" in again.stdout


@pytest.mark.django_db(transaction=True)
def test_progress_bar_on_a_terminal_and_none_with_json(fake):
    env = process_env(POLYGON_API_KEY="", SEC_BASE_URL=fake.url, SEC_DATA_URL=fake.url, NASDAQ_BASE_URL=fake.url,
                      SEC_REQUESTS_PER_SECOND="0")
    window = ["--days", "3", "--end", "2026-11-24", "--sources", "sec,nasdaq"]
    done, screen = run_manage_on_terminal("backfill_ipos", *window, env=env)
    assert done.returncode == 0, screen
    assert "backfill 3d" in screen and "4/4" in screen  # 3 SEC days and one Nasdaq month

    done, screen = run_manage_on_terminal("backfill_ipos", *window, "--force", "--json", env=env)
    assert done.returncode == 0, screen
    assert json.loads(done.stdout)["sources"]["sec"]["errors"] == 0
    assert "backfill 3d" not in screen and "4/4" not in screen


def test_an_operators_edit_wins_over_the_sources_and_survives_rescans(fake):
    scan.scan(DAY, ["polygon", "nasdaq"])
    sgsw = IPO.objects.get(ticker="SGSW")
    sgsw.listing_date, sgsw.exchange = date(2026, 11, 21), "XNAS"
    sgsw.save()
    admin_actions.record_manual_edit(sgsw, ["listing_date", "exchange"], "ops")
    fake.data.polygon_ipos[1]["last_updated"] = "2026-11-25"  # a changed Polygon record is merged again
    scan.scan(DAY, ["polygon", "nasdaq"])
    sgsw.refresh_from_db()
    assert (sgsw.listing_date, sgsw.exchange) == (date(2026, 11, 21), "XNAS")
    assert sgsw.sources == ["polygon", "nasdaq"]
    manual = sgsw.records.get(source="manual")
    assert manual.parsed == {"listing_date": "2026-11-21", "exchange": "XNAS"} and manual.raw["edited_by"] == "ops"
    sgsw.exchange = ""
    sgsw.save()
    admin_actions.record_manual_edit(sgsw, ["exchange"], "ops")
    sgsw.refresh_from_db()
    assert sgsw.exchange == "XNYS"  # cleared: the sources decide again


def test_admin_edit_goes_through_the_change_form(fake, admin_client):
    scan.scan(DAY, ["polygon"])
    gpep = IPO.objects.get(ticker="GPEP")
    url = reverse("admin:ipo_ipo_change", args=[gpep.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["first_days_volumes"] = "[]"
    data.update(sic_code="1311", status="withdrawn")
    for prefix in ("records", "status_changes", "conflicts"):
        total = {"records": gpep.records.count(), "status_changes": gpep.status_changes.count(),
                 "conflicts": 0}[prefix]
        data.update({f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": total, f"{prefix}-MIN_NUM_FORMS": 0,
                     f"{prefix}-MAX_NUM_FORMS": 1000})
        objects = {"records": gpep.records.all(), "status_changes": gpep.status_changes.all(), "conflicts": []}[prefix]
        for i, obj in enumerate(objects):
            data[f"{prefix}-{i}-id"] = obj.pk
            data[f"{prefix}-{i}-ipo"] = gpep.pk
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    gpep.refresh_from_db()
    assert (gpep.sic_code, gpep.sector, gpep.status) == ("1311", "Energy", "withdrawn")
    assert gpep.status_changes.last().source == "admin"
