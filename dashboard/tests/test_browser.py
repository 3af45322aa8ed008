"""The dashboard in a real browser: Debian's chromium driven by Playwright against daphne on the test database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from playwright.sync_api import expect

from dashboard.tests.browsing import log_in
from monitors.quality.models import Anomaly, Bar, Report, Scan
from tickstock_ops import alerts, events

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def page(browser, asgi_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.base = f"http://{asgi_server}"
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_an_anonymous_visitor_is_redirected_to_the_login_page(page):
    for path in ("/", "/quality/", "/rules/"):
        page.goto(page.base + path)
        assert page.url == f"{page.base}/admin/login/?next={path}"
        expect(page.locator("#id_username")).to_be_visible()


def test_an_event_published_now_appears_on_the_overview_within_two_seconds(page, operator):
    log_in(page)
    page.evaluate("window.notReloaded = true")

    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"ticker": "LIVEX", "company_name": "Live Example Corp",
                                                  "status": "expected"})
    expect(page.locator("#events tr").first).to_contain_text("LIVEX · Live Example Corp", timeout=2000)

    alerts.fire("ipo:source:sec", source="ipo", title="IPO source sec failed: HTTP 503", severity="critical")
    expect(page.locator("[data-panel=alerts]")).to_contain_text("IPO source sec failed: HTTP 503", timeout=2000)
    expect(page.locator(".tile-critical .num")).to_have_text("1", timeout=2000)
    assert page.evaluate("window.notReloaded") is True


def test_a_reconnecting_page_gets_the_events_it_missed(page, operator):
    page.add_init_script("""(() => {
        const Native = window.WebSocket;
        window.openSockets = [];
        window.WebSocket = function (url, protocols) {
            const socket = new Native(url, protocols);
            window.openSockets.push(socket);
            return socket;
        };
        window.WebSocket.prototype = Native.prototype;
    })()""")
    log_in(page)
    page.evaluate("window.notReloaded = true")
    refusing = {"now": True}

    def gate(route):
        if refusing["now"]:
            route.close()
        else:
            route.connect_to_server()

    page.route_web_socket("**/ws/dashboard/", gate)
    page.evaluate("window.openSockets.forEach((socket) => socket.close())")
    expect(page.locator("#connection")).to_have_text("offline")
    with transaction.atomic():
        events.publish("tickstock.ipo.detected", {"ticker": "MISSD", "company_name": "Missed While Away"})
    page.wait_for_timeout(1500)
    expect(page.locator("#events")).not_to_contain_text("MISSD")

    refusing["now"] = False
    expect(page.locator("#connection")).to_have_text("live", timeout=20000)
    expect(page.locator("#events tr").first).to_contain_text("MISSD · Missed While Away", timeout=5000)
    assert page.evaluate("window.notReloaded") is True


def _quality_data() -> None:
    day = datetime(2025, 6, 30, tzinfo=UTC)
    scan = Scan.objects.create(interval="1d", as_of=day, symbols_scanned=3, anomaly_count=1, duration_s=0.3,
                               mean_scores={"overall_score": 88.0}, anomaly_counts={"price_anomaly": 1})
    report = None
    for symbol, score in (("AAA", 60), ("BBB", 100), ("CCC", 97)):
        made = Report.objects.create(scan=scan, symbol=symbol, price_score=score, volume_score=100,
                                     freshness_score=100, overall_score=score)
        report = report or made
    Bar.objects.bulk_create([Bar(symbol="AAA", source="demo", interval="1d", ts=day - timedelta(days=n),
                                 open=100, high=102, low=98, close=100 + (n % 7) * 2 - (30 if n == 5 else 0),
                                 volume=10_000) for n in range(60)])
    Anomaly.objects.create(report=report, symbol="AAA", anomaly_type="price_anomaly", severity="critical",
                           interval="1d", ts=day - timedelta(days=5), value=-28, threshold=20, detail="bad print")


def painted_pixels(page, selector: str) -> int:
    return page.evaluate("""(selector) => {
        const canvas = document.querySelector(selector);
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
        return painted;
    }""", selector)


def test_the_charts_draw(page, operator):
    _quality_data()
    log_in(page, "/quality/")
    for chart in ("histogram", "trend"):
        canvas = f".chart[data-chart={chart}] canvas"
        expect(page.locator(canvas)).to_have_count(1)
        assert painted_pixels(page, canvas) > 2000, chart

    page.goto(f"{page.base}/quality/AAA/")
    expect(page.locator(".chart[data-chart=price] canvas")).to_have_count(1)
    assert painted_pixels(page, ".chart[data-chart=price] canvas") > 2000
    red = page.evaluate("""() => {
        const canvas = document.querySelector('.chart[data-chart=price] canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] > 230 && data[i + 1] < 100 && data[i + 2] < 100) n++;
        return n;
    }""")
    assert red > 20, "the critical anomaly marker is not drawn"


def test_a_websocket_from_a_foreign_origin_is_refused(page, operator):
    log_in(page)
    script = """(url) => new Promise((resolve) => {
        const socket = new WebSocket(url);
        socket.onopen = () => { socket.close(); resolve('open'); };
        socket.onclose = () => resolve('refused');
    })"""
    socket_url = page.base.replace("http://", "ws://") + "/ws/dashboard/"
    assert page.evaluate(script, socket_url) == "open"

    page.route("http://evil.example/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<html><body>elsewhere</body></html>"))
    page.goto("http://evil.example/page")
    assert page.evaluate(script, socket_url) == "refused"
