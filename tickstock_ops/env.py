"""Reading the environment (docs/configuration.md) into settings, with one clear line per mistake.

Every environment variable is read through these helpers, in `config/settings.py` only; code elsewhere reads
Django settings, with each app's defaults in its `conf.py` (see `tickstock_ops.conf.setting`)."""

import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url


class ConfigError(Exception):
    """A malformed environment variable; the message names it."""


def env_flag(env: dict, name: str, default: bool = False) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_number(env: dict, name: str, default: float) -> float:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if number < 0:
        raise ConfigError(f"{name}={value!r} must not be negative")
    return number


def env_int(env: dict, name: str, default: int) -> int:
    number = env_number(env, name, default)
    if number != int(number):
        raise ConfigError(f"{name}={env.get(name)!r} is not a whole number")
    return int(number)


def env_str(env: dict, name: str, default: str = "") -> str:
    return env.get(name) or default


def env_list(env: dict, name: str) -> list[str]:
    """A comma-separated variable as a list, blanks dropped."""
    return [item.strip() for item in env.get(name, "").split(",") if item.strip()]


_PASSWORD = re.compile(r"(?P<user>://[^:/@]*:)(?P<password>.*)@")


def redacted(url: str, text: str | None = None) -> str:
    """`text` (default: the URL itself) with the URL's password replaced by ***, wherever it appears."""
    text = url if text is None else text
    match = _PASSWORD.search(url)
    if not match or not match["password"]:
        return text
    return text.replace(match["password"], "***")


def _malformed(name: str, url: str, reason: str) -> ConfigError:
    return ConfigError(f"{name}={redacted(url)!r} is malformed: {redacted(url, reason)}")


def database_config(env: dict, var_dir: Path) -> dict:
    url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'tickstock.sqlite3'}"
    scheme = urlsplit(url).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise _malformed("DATABASE_URL", url, "expected postgres://user:pass@host:port/db or sqlite:///path")
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as error:  # dj-database-url raises several types for bad URLs
        raise _malformed("DATABASE_URL", url, str(error)) from None
    if scheme != "sqlite" and not config.get("NAME"):
        raise _malformed("DATABASE_URL", url, "it names no database")
    if scheme != "sqlite":
        # libpq waits for ever on a host that drops packets; every wait here has an end.
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
    if scheme == "sqlite":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # A file, not :memory:, so that processes a test starts (workers, the ASGI server) share it.
        config["TEST"] = {"NAME": str(var_dir / f"test-{os.getpid()}.sqlite3")}
    return config


def redis_url(env: dict) -> str | None:
    """The configured Redis URL, or None when the embedded server should be used."""
    url = env.get("REDIS_URL")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise _malformed("REDIS_URL", url, "bad port") from None
        if not parts.hostname:
            raise _malformed("REDIS_URL", url, "no host")
        db = parts.path.lstrip("/")
        if db and not db.isdigit():
            raise _malformed("REDIS_URL", url, "the database must be a number")
        return url
    if parts.scheme == "unix" and parts.path:
        return url
    raise _malformed("REDIS_URL", url, "expected redis://host:port/db or unix:///path")


NOTIFY_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")


def notify_urls(env: dict, name: str) -> str:
    """Comma-separated Apprise URLs, checked for shape here (Apprise itself is slow to import; the deliverer and
    `deliver_notifications` check each scheme when they start)."""
    value = (env.get(name) or "").strip()
    for url in re.split(r"[,\s]+(?=[A-Za-z][A-Za-z0-9+.-]*://)", value) if value else []:
        if not NOTIFY_URL.match(url.strip()):
            raise ConfigError(f"{name}: {url.strip()[:40]!r} is not an Apprise URL such as json://host:port/path, "
                              f"mailto://user:pass@host or slack://token")
    return value


def base_url(env: dict, name: str, default: str) -> str:
    url = env.get(name) or default
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name}={url!r} is malformed: expected http(s)://host[:port][/path]")
    return url.rstrip("/")


def exit_on_config_error(error: ConfigError) -> None:
    sys.stderr.write(f"configuration error: {error}\n")
    raise SystemExit(2)


def run_management_command(argv: list[str]) -> None:
    """manage.py's entry point: a database that cannot be reached is one line, not a traceback."""
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(argv)
    except OperationalError as error:
        if "DATABASE_URL" in os.environ:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            first_line = redacted(os.environ["DATABASE_URL"], first_line)
            sys.stderr.write(f"DATABASE_URL: cannot use the database: {first_line}\n")
            raise SystemExit(2) from None
        raise
