"""Fixtures every app's tests share: an isolated Redis database, real subprocesses, an ASGI server."""

import os
import shutil

import pytest
from django.conf import settings

from tickstock_ops import redis_client, testing


@pytest.fixture(scope="session", autouse=True)
def isolated_redis():
    """Each test run gets its own Redis database number and Channels prefix, so runs never collide."""
    base_url = settings.REDIS_URL
    db = testing.claim_redis_db(base_url)
    settings.REDIS_URL = testing.redis_url_with_db(base_url, db)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": settings.REDIS_URL, "socket_timeout": 15}],  # config/settings.py
                       "prefix": f"test{os.getpid()}", "capacity": 5000},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    redis_client._client_for.cache_clear()
    yield settings.REDIS_URL
    testing.release_redis_db(base_url, db)


@pytest.fixture
def redis_conn(isolated_redis):
    client = redis_client.get_redis()
    testing.clear_redis_db(client)
    yield client
    testing.clear_redis_db(client)


@pytest.fixture
def asgi_server(transactional_db, isolated_redis):
    """The real ASGI server (daphne) on a free port, against the test database and Redis."""
    port = testing.free_port()
    process = testing.start_module("daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application")
    testing.wait_for_port(port, process=process)
    yield f"127.0.0.1:{port}"
    testing.stop(process)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; browser tests are skipped without it, except under CI where they must run."""
    if not CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("no chromium on this machine: browser tests need Debian's chromium package")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium, django_db_setup):
    """A headless Chromium for one test module. Playwright's sync API keeps an event loop running in this thread
    while it is open, and Django refuses ORM calls from a thread with a running loop: so the loop must not
    outlive the module, and the tests' own (plain synchronous) ORM calls are allowed meanwhile."""
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def private_redis(tmp_path, settings):
    """A Redis server of this test's own, which it may stop and restart; the project's code uses it meanwhile."""
    server = testing.RedisServer(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    redis_client._client_for.cache_clear()
    yield server
    server.stop()
    redis_client._client_for.cache_clear()
