from pathlib import Path

import pytest

from tickstock_ops import env as ops_env
from tickstock_ops import testing


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:notaport/db"),
        ("REDIS_URL", "http://127.0.0.1:6379/0"),
        ("REDIS_URL", "redis://127.0.0.1:6379/zero"),
        ("REDIS_URL", "redis://127.0.0.1:port/0"),
        ("POLYGON_REQUESTS_PER_MINUTE", "five"),
        ("DEBUG", "maybe"),
    ],
)
def test_a_malformed_variable_stops_the_process_with_one_line_naming_it(variable, value):
    result = testing.run_manage("check", env={**testing.process_env(), variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_secret_key_is_required_without_debug():
    env = {**testing.process_env(), "DEBUG": "0"}
    env.pop("SECRET_KEY", None)
    result = testing.run_manage("check", env=env)
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_line_naming_database_url():
    url = f"postgres://postgres@127.0.0.1:{testing.free_port()}/nowhere"
    result = testing.run_manage("migrate", env={**testing.process_env(), "DATABASE_URL": url})
    assert result.returncode == 2
    assert result.stderr.startswith("DATABASE_URL: cannot use the database")
    assert "Traceback" not in result.stderr


def test_urls_are_parsed_into_settings(tmp_path: Path):
    postgres = ops_env.database_config({"DATABASE_URL": "postgres://u:p@db.internal:5433/ops"}, tmp_path)
    assert (postgres["ENGINE"], postgres["HOST"], postgres["PORT"], postgres["NAME"]) == (
        "django.db.backends.postgresql", "db.internal", 5433, "ops")
    sqlite = ops_env.database_config({}, tmp_path)
    assert sqlite["NAME"] == str(tmp_path / "tickstock.sqlite3")
    assert ops_env.redis_url({}) is None
    assert ops_env.redis_url({"REDIS_URL": "unix:///tmp/r.sock"}) == "unix:///tmp/r.sock"
    assert ops_env.env_number({"X": "0"}, "X", 5) == 0
