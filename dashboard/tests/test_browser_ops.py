"""What an on-call operator relies on, in a real browser: nothing typed is lost to a live update, a stale page
says so, matcher silences mute new alerts, a phone can use it, and charts and tables share one clock."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboard.tests.browsing import log_in
from monitors.quality.models import Anomaly, Bar, Report, Scan
from tickstock_ops import alerts, testing
from tickstock_ops.models import Alert, OutboxEvent, Silence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def new_page(browser, base: str, width: int = 1400, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.base = base
    return page


@pytest.fixture
def page(browser, asgi_server):
    page = new_page(browser, f"http://{asgi_server}")
    yield page
    page.context.close()
    assert page.errors == [], f"JavaScript errors: {page.errors}"


def spike(symbol: str, source: str = "feed-b") -> Alert:
    return alerts.fire(f"quality:volume_spike:{symbol}:1m", source="quality", title=f"{symbol} volume spike x14",
                       labels={"symbol": symbol, "anomaly_type": "volume_spike", "interval": "1m",
                               "source": source, "exchange": "XNAS"})


def test_typed_text_focus_and_a_closed_group_survive_a_live_update(page, operator):
    spike("AAA")
    alerts.fire("ipo:source:sec", source="ipo", title="IPO source sec failed: HTTP 503", labels={"source": "sec"})
    log_in(page)
    ipo_group = page.locator("details.group", has_text="IPO source sec failed")
    ipo_group.locator("summary b").click()  # the operator closes a group
    expect(ipo_group).not_to_have_attribute("open", "")
    box = page.locator("#alert-filter-q")
    box.click()
    box.type("symbol=AAA half-typed", delay=10)
    page.mouse.move(5, 5)  # the pointer off the list, so the update is not held for it

    spike("BBB")  # a live update re-renders the alerts panel
    expect(page.locator("[data-panel=alerts]")).to_contain_text("BBB volume spike x14", timeout=5000)

    assert box.input_value() == "symbol=AAA half-typed"
    assert page.evaluate("document.activeElement.id") == "alert-filter-q"
    expect(ipo_group).not_to_have_attribute("open", "")
    box.type(" more")  # typing goes on where it was
    assert box.input_value() == "symbol=AAA half-typed more"


@pytest.fixture
def restartable_server(transactional_db, isolated_redis):
    """daphne on a port of its own that the test can stop and start again."""
    port = testing.free_port()
    server = {"process": None}

    def start():
        server["process"] = testing.start_module("daphne", "-b", "127.0.0.1", "-p", str(port),
                                                 "config.asgi:application")
        testing.wait_for_port(port, process=server["process"])

    def stop():
        testing.stop(server["process"])

    start()
    yield f"127.0.0.1:{port}", start, stop
    stop()


def test_a_stale_page_says_so_and_recovers_on_reconnect(browser, restartable_server, operator):
    address, start, stop = restartable_server
    page = new_page(browser, f"http://{address}")
    log_in(page)
    expect(page.locator("[data-panel=health] h2")).to_contain_text("healthy")
    banner = page.locator("#stale-banner")
    expect(banner).to_be_hidden()

    stop()
    expect(banner).to_be_visible(timeout=5000)
    expect(banner).to_contain_text(" UTC")
    since = page.locator("#stale-since").inner_text()
    assert len(since.split()[0]) == 8 and since.endswith("UTC"), since  # hh:mm:ss UTC
    expect(page.locator("body")).to_have_class("stale")
    expect(page.locator("[data-health-unknown]")).to_be_visible()
    expect(page.locator("[data-panel=health] h2 .live-only")).to_be_hidden()
    opacity = page.evaluate("getComputedStyle(document.querySelector('[data-panel=alerts]')).opacity")
    assert float(opacity) < 0.6

    start()
    expect(page.locator("#connection")).to_have_text("live", timeout=25000)
    expect(banner).to_be_hidden(timeout=5000)
    expect(page.locator("[data-health-unknown]")).to_be_hidden()
    expect(page.locator("[data-panel=health] h2 .live-only")).to_have_text("healthy")
    assert page.errors == []
    page.context.close()


def test_a_matcher_silence_created_on_the_dashboard_mutes_a_new_matching_alert(page, operator):
    spike("AAA")
    log_in(page)
    page.get_by_role("link", name="new silence").click()
    dialog = page.locator("#silence-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=matchers]").fill("type=volume_spike, source=feed-b")
    expect(dialog.locator("[data-silence-preview]")).to_contain_text("Mutes 1 open alert(s)")
    dialog.get_by_label("4 h").check()
    dialog.locator("input[name=comment]").fill("feed-b replays the morning")
    dialog.get_by_role("button", name="create silence").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".toast")).to_contain_text("1 alert(s) muted")

    silence = Silence.objects.get()
    assert silence.matchers_text == "type=volume_spike, source=feed-b" and silence.created_by == operator
    assert timedelta(hours=3.9) < silence.ends_at - silence.starts_at < timedelta(hours=4.1)

    muted, loud = spike("CCC"), spike("DDD", source="feed-a")
    assert muted.is_silenced() and not loud.is_silenced()
    firing = [e.payload["fingerprint"] for e in OutboxEvent.objects.filter(type="tickstock.alert.firing")]
    assert muted.fingerprint not in firing and loud.fingerprint in firing
    expect(page.locator(f"#alert-{muted.pk}")).to_contain_text("silenced until", timeout=5000)
    expect(page.locator(f"#alert-{loud.pk}")).not_to_contain_text("silenced")

    page.goto(f"{page.base}/silences/")
    expect(page.locator(f"#silence-{silence.pk}")).to_contain_text("feed-b replays the morning")
    page.goto(f"{page.base}/?q=source%3Dfeed-b&silenced=0")  # the filter lives in the URL
    expect(page.locator("[data-panel=alerts]")).to_contain_text("No alert matches the filter")


def test_acknowledge_silence_lift_and_a_confirmed_resolve_from_the_overview(page, operator):
    alert = spike("AAA")
    log_in(page)
    row = page.locator(f"#alert-{alert.pk}")
    row.get_by_role("button", name="ack").click()
    expect(row.locator(".meta")).to_contain_text("acknowledged by operator")

    row.get_by_role("link", name="silence…").click()
    page.locator("#silence-dialog input[name=comment]").fill("vendor is re-sending the day")
    page.locator("#silence-dialog").get_by_role("button", name="create silence").click()
    expect(row).to_contain_text("silenced until")
    alert.refresh_from_db()
    assert alert.is_silenced() and alert.silence_reason == "vendor is re-sending the day"

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="lift silence").click()
    expect(row).not_to_contain_text("silenced until")

    Scan.objects.create(interval="1m", as_of=datetime.now(UTC), symbols_scanned=1)
    Alert.objects.filter(pk=alert.pk).update(labels={**alert.labels, "scan_id": Scan.objects.get().pk})
    page.reload()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.locator(f"#alert-{alert.pk}").get_by_role("button", name="resolve").click()
    expect(page.locator(f"#alert-{alert.pk}")).to_have_count(0)
    assert "will reopen at the next check" in asked[0]
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_no_horizontal_scroll_at_phone_width_and_alert_actions_are_reachable(browser, asgi_server, operator):
    for n in range(4):
        spike(f"LONGSYMBOL{n}")
    alerts.fire("ipo:source:nasdaq", source="ipo", severity="critical",
                title="IPO source nasdaq failed: HTTPSConnectionPool(host='api.nasdaq.com', port=443): Read timed "
                      "out. (read timeout=30)", labels={"source": "nasdaq"})
    _minute_data()
    page = new_page(browser, f"http://{asgi_server}", width=390, height=844)
    log_in(page)
    for path in ("/", "/quality/", "/quality/AAA/?interval=1m", "/ipos/", "/rules/", "/silences/"):
        page.goto(page.base + path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide at a 390 px viewport"
    page.goto(page.base + "/")
    for name in ("live", "log out"):
        box = page.get_by_text(name, exact=True).first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, name
    row = page.locator(".alert-row").first
    for button in (row.get_by_role("button", name="ack"), row.get_by_role("link", name="silence…"),
                   row.get_by_role("button", name="resolve")):
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.errors == []
    page.context.close()


def _minute_data() -> datetime:
    """AAA minute bars 14:30–15:59 UTC on a Friday with a hole at 15:00–15:09 and a bad print at 15:32 UTC."""
    start = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    bars = [Bar(symbol="AAA", source="feed-a", interval="1m", ts=start + timedelta(minutes=n), open=100, high=101,
                low=99, close=100 + (n % 5) - (20 if n == 62 else 0), volume=1_000)
            for n in range(90) if not 30 <= n < 40]
    Bar.objects.bulk_create(bars)
    bad = start + timedelta(minutes=62)
    for scan_number in range(3):  # three scans saw the same bad print
        scan = Scan.objects.create(interval="1m", as_of=bad + timedelta(minutes=scan_number + 1), symbols_scanned=1)
        report = Report.objects.create(scan=scan, symbol="AAA", price_score=60, volume_score=100,
                                       freshness_score=100, overall_score=60)
        Anomaly.objects.create(report=report, symbol="AAA", anomaly_type="price_anomaly", severity="critical",
                               interval="1m", ts=bad, value=-20, threshold=20, detail="bad print")
    return bad


def _legend_time_at(page, ts: datetime) -> str:
    return page.evaluate("""(t) => {
        const u = document.querySelector('.chart[data-chart=price]')._plot;
        u.setCursor({left: u.valToPos(t, 'x'), top: 20});
        return document.querySelector('.chart[data-chart=price] .u-legend .u-series:first-child .u-value').textContent;
    }""", ts.timestamp())


def test_chart_and_table_show_one_anomaly_at_the_same_time_in_the_chosen_clock(page, operator):
    bad = _minute_data()
    log_in(page, "/quality/AAA/?interval=1m")
    rows = page.locator("table.anomalies tbody tr")
    expect(rows).to_have_count(1)  # once per bar and type, however many scans saw it
    expect(rows.first.locator("td").nth(5)).to_have_text("3")
    expect(rows.first.locator(".bar-time")).to_have_text("2026-11-27 15:32")
    expect(page.locator(".chart[data-chart=price] canvas")).to_have_count(1)
    assert _legend_time_at(page, bad) == "2026-11-27 15:32"
    nulls = page.evaluate("document.querySelector('.chart[data-chart=price]')._plot.data[1].filter(v => v === null)"
                          ".length")
    assert nulls >= 1, "the missing minutes are drawn across instead of as a gap"

    page.locator("select[name=zone]").select_option("America/New_York")
    page.wait_for_load_state("networkidle")
    expect(page.locator("table.anomalies .bar-time").first).to_have_text("2026-11-27 10:32")
    expect(page.locator(".chart[data-chart=price] canvas")).to_have_count(1)
    assert _legend_time_at(page, bad) == "2026-11-27 10:32"
    page.goto(f"{page.base}/")  # kept for the user, on every page
    expect(page.locator("select[name=zone]")).to_have_value("America/New_York")
