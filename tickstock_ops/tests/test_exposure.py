"""What /healthz, /metrics and start-up errors show to whom: no internals for anonymous callers, no secrets ever."""

import json
import urllib.error
import urllib.request

import pytest
from django.contrib.auth import get_user_model

from tickstock_ops import testing

SECRET = "hunter2-s3cret"


def fetch(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.django_db(transaction=True)
class TestHealthDetails:
    def test_anonymous_callers_get_the_status_only(self, client, redis_conn):
        response = client.get("/healthz")
        assert (response.status_code, response.json()) == (200, {"status": "ok"})

    def test_anonymous_callers_get_no_error_text_while_redis_is_down(self, client, private_redis):
        private_redis.stop()
        response = client.get("/healthz")
        assert (response.status_code, response.json()) == (503, {"status": "unhealthy"})

    def test_staff_see_every_part(self, client, redis_conn):
        client.force_login(get_user_model().objects.create_user("ops", is_staff=True))
        body = client.get("/healthz").json()
        assert body["status"] == "ok" and body["database"]["ok"] and body["redis"]["ok"]
        assert "tasks" in body["queues"]

    @pytest.mark.parametrize("how", ["header", "query"])
    def test_the_health_token_shows_every_part(self, client, redis_conn, settings, how):
        settings.HEALTH_TOKEN = "probe-token-123"
        if how == "header":
            response = client.get("/healthz", HTTP_AUTHORIZATION="Bearer probe-token-123")
        else:
            response = client.get("/healthz", {"token": "probe-token-123"})
        assert response.json()["redis"]["ok"] is True

    @pytest.mark.parametrize("offered", ["", "wrong", "probe-token-12", "Bearer probe-token-123"])
    def test_a_wrong_token_shows_the_status_only(self, client, redis_conn, settings, offered):
        settings.HEALTH_TOKEN = "probe-token-123"
        assert client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {offered}").json() == {"status": "ok"}
        assert client.get("/healthz", {"token": offered}).json() == {"status": "ok"}

    def test_no_token_configured_means_no_token_access(self, client, redis_conn, settings):
        settings.HEALTH_TOKEN = ""
        assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer ").json() == {"status": "ok"}


@pytest.fixture
def server_without_database(isolated_redis, tmp_path):
    """daphne whose DATABASE_URL (with a password) points at a port where no database listens."""
    port = testing.free_port()
    database = f"postgres://tickstock:{SECRET}@127.0.0.1:{testing.free_port()}/tickstock"
    log_path = tmp_path / "daphne.log"
    env = {**testing.process_env(), "DATABASE_URL": database, "HEALTH_TOKEN": "probe-token-123"}
    with log_path.open("w") as log:
        process = testing.start_module("daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application",
                                       env=env, stdout=log, stderr=log)
    testing.wait_for_port(port, timeout=60, process=process)
    yield f"http://127.0.0.1:{port}", log_path
    testing.stop(process)


def test_without_the_database_healthz_is_503_and_metrics_stay_up(server_without_database):
    base, log_path = server_without_database

    assert fetch(f"{base}/healthz") == (503, '{"status": "unhealthy"}')
    # a session cookie makes the view look the user up in the database that is down: still no 500
    assert fetch(f"{base}/healthz", {"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"})[0] == 503
    status, text = fetch(f"{base}/healthz", {"Authorization": "Bearer probe-token-123"})
    assert status == 503 and json.loads(text)["database"]["ok"] is False
    status, metrics = fetch(f"{base}/metrics")
    assert status == 200
    assert "tickstock_database_up 0.0" in metrics and "tickstock_redis_up 1.0" in metrics
    assert SECRET not in text + metrics + log_path.read_text()
    assert "Traceback" not in log_path.read_text()


@pytest.mark.parametrize(("variable", "value"), [
    ("DATABASE_URL", f"postgres://admin:{SECRET}@db.internal:notaport/ops"),
    ("DATABASE_URL", f"mysql://admin:{SECRET}@db.internal/ops"),
    ("DATABASE_URL", f"postgres://admin:{SECRET}@db.internal:5432"),
    ("DATABASE_URL", f"postgres://admin:{SECRET}@with@at@db.internal:x/ops"),
    ("REDIS_URL", f"redis://:{SECRET}@cache.internal:port/0"),
    ("REDIS_URL", f"redis://default:{SECRET}@cache.internal:6379/zero"),
])
def test_a_malformed_url_is_named_without_its_password(variable, value):
    result = testing.run_manage("check", env={**testing.process_env(), variable: value})
    assert result.returncode == 2
    assert variable in result.stderr and "***" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert "s3cret" not in result.stderr  # not even a piece of it


def test_an_unreachable_database_is_reported_without_its_password():
    url = f"postgres://tickstock:{SECRET}@127.0.0.1:{testing.free_port()}/nowhere"
    result = testing.run_manage("migrate", env={**testing.process_env(), "DATABASE_URL": url})
    assert result.returncode == 2 and result.stderr.startswith("DATABASE_URL: cannot use the database")
    assert SECRET not in result.stderr + result.stdout
