"""The rules editor in a real browser: client-side JSON check, formatting, and the server's schema errors."""

import shutil

import pytest

from equity_rules.models import EquityType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def own_browser(django_db_setup):
    """This module's own Chromium rather than the session's: Playwright's sync API runs an event loop in the
    main thread while it is open, and Django refuses ORM calls there, in this module and in every later test.
    (Asking for the test database first creates it before that loop starts.)"""
    if not CHROMIUM:
        pytest.skip("no chromium on this machine: browser tests need Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield instance
        instance.close()


@pytest.fixture
def admin_page(own_browser, asgi_server, django_user_model):
    django_user_model.objects.create_superuser("carol", "carol@example.com", "pw-carol-123")
    context = own_browser.new_context()
    page = context.new_page()
    page.goto(f"http://{asgi_server}/admin/login/")
    page.fill("#id_username", "carol")
    page.fill("#id_password", "pw-carol-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"http://{asgi_server}/admin/")
    yield page, asgi_server
    context.close()


def test_the_editor_checks_json_as_you_type_and_the_server_names_the_bad_path(admin_page):
    page, server = admin_page
    etf = EquityType.objects.get(equity_type="etf")
    page.goto(f"http://{server}/admin/equity_rules/equitytype/{etf.pk}/change/")
    status = page.locator("#id_retry_config ~ .json-editor-bar .json-editor-status")
    assert "valid JSON" in status.inner_text()

    page.fill("#id_retry_config", '{"max_retries": 3, "backoff_multiplier": 2')
    page.locator("#id_retry_config").press("End")
    page.locator("#id_retry_config").type(" ")
    assert status.inner_text().startswith("✗")
    assert "error" in status.get_attribute("class")

    page.fill("#id_retry_config", '{"max_retries": -3, "backoff_multiplier": 2}')
    page.locator("#id_retry_config ~ .json-editor-bar button").click()
    assert page.input_value("#id_retry_config") == '{\n  "max_retries": -3,\n  "backoff_multiplier": 2\n}'
    assert "valid JSON" in status.inner_text()

    page.click("input[name=_save]")
    assert page.locator(".errorlist").first.inner_text() == (
        "retry_config.max_retries: must be a whole number ≥ 0, not -3")
    assert EquityType.objects.get(pk=etf.pk).version == 1

    page.fill("#id_retry_config", '{"max_retries": 5, "backoff_multiplier": 2}')
    page.click("input[name=_save]")
    page.wait_for_url(f"http://{server}/admin/equity_rules/equitytype/")
    etf.refresh_from_db()
    assert (etf.version, etf.retry_config["max_retries"]) == (2, 5)
