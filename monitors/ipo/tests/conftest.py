import pytest

from monitors.ipo import demo
from monitors.ipo.fake_sources import FakeSources


@pytest.fixture
def fast_http(settings):
    """Retries without long waits, and a short read timeout, so fault tests run quickly."""
    settings.IPO_HTTP_BACKOFF_BASE = 0.01
    settings.IPO_HTTP_READ_TIMEOUT = 0.5
    settings.IPO_HTTP_CONNECT_TIMEOUT = 0.5
    settings.IPO_HTTP_RETRIES = 2
    return settings


@pytest.fixture
def fake(fast_http):
    """A loopback server with the recorded demo payloads of every source; settings point at it."""
    with FakeSources(demo.source_data()) as server:
        for name, value in server.settings().items():
            setattr(fast_http, name, value)
        yield server
