"""The rules editor in a real browser: client-side JSON check, formatting, and the server's schema errors."""

import threading

import pytest

from conftest import CHROMIUM_ARGS
from equity_rules.models import EquityType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_a_thread_of_its_own(function, *args):
    """Run Playwright's sync API off the main thread: its event loop would otherwise stay in the main thread,
    where Django refuses ORM calls (and a session browser another module started may already be there)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def edit_rules_in_the_browser(server: str, pk: int, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    seen = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"http://{server}/admin/login/")
        page.fill("#id_username", "carol")
        page.fill("#id_password", "pw-carol-123")
        page.click("input[type=submit]")
        page.wait_for_url(f"http://{server}/admin/")
        page.goto(f"http://{server}/admin/equity_rules/equitytype/{pk}/change/")
        status = page.locator("#id_retry_config ~ .json-editor-bar .json-editor-status")
        seen["initial"] = status.inner_text()

        page.fill("#id_retry_config", '{"max_retries": 3, "backoff_multiplier": 2')
        page.locator("#id_retry_config").type(" ")
        seen["broken"] = (status.inner_text(), status.get_attribute("class"))

        page.fill("#id_retry_config", '{"max_retries": -3, "backoff_multiplier": 2}')
        page.locator("#id_retry_config ~ .json-editor-bar button").click()
        seen["formatted"] = (page.input_value("#id_retry_config"), status.inner_text())

        page.click("input[name=_save]")
        seen["server_error"] = page.locator(".errorlist").first.inner_text()

        page.wait_for_load_state()  # the editor is set up on the returned page before it is used
        page.fill("#id_retry_config", '{"max_retries": 5, "backoff_multiplier": 2}')
        with page.expect_navigation(url=f"http://{server}/admin/equity_rules/equitytype/"):
            page.click("input[name=_save]")
        browser.close()
    return seen


def test_the_editor_checks_json_as_you_type_and_the_server_names_the_bad_path(asgi_server, django_user_model,
                                                                              chromium):
    django_user_model.objects.create_superuser("carol", "carol@example.com", "pw-carol-123")
    etf = EquityType.objects.get(equity_type="etf")
    versions_before = etf.history.count()

    seen = in_a_thread_of_its_own(edit_rules_in_the_browser, asgi_server, etf.pk, chromium)

    assert "valid JSON" in seen["initial"]
    text, css_class = seen["broken"]
    assert text.startswith("✗") and "error" in css_class
    assert seen["formatted"] == ('{\n  "max_retries": -3,\n  "backoff_multiplier": 2\n}',
                                 "✓ valid JSON (the server also checks the rules themselves)")
    assert seen["server_error"] == "retry_config.max_retries: must be a whole number ≥ 0, not -3"
    etf.refresh_from_db()
    assert etf.retry_config["max_retries"] == 5
    assert etf.history.count() == versions_before + 1  # the refused save made no version
