"""Steps the dashboard's browser tests share."""

from playwright.sync_api import expect

PASSWORD = "browser-test-pw-7"


def log_in(page, next_path: str = "/") -> None:
    """Log in as the `operator` fixture through the admin login and wait for the live connection."""
    page.goto(f"{page.base}/admin/login/?next={next_path}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{page.base}{next_path}")
    expect(page.locator("#connection")).to_have_text("live", timeout=5000)
