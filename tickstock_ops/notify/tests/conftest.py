import pytest

from tickstock_ops.notify.tests.servers import JsonReceiver, SmtpReceiver


@pytest.fixture
def webhook():
    server = JsonReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    server = SmtpReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def notify_to(settings):
    """Point the default receiver (TICKSTOCK_NOTIFY_URLS) at the given URLs."""
    def point(*urls: str) -> None:
        settings.TICKSTOCK_NOTIFY_URLS = ",".join(urls)

    return point
