"""Settings from the environment (docs/configuration.md); with nothing set, SQLite and an embedded Redis under var/."""

import os
from pathlib import Path

from tickstock_ops import embedded_redis, env

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ
VAR_DIR = Path(env.env_str(ENV, "TICKSTOCK_VAR_DIR") or BASE_DIR / "var")

try:
    DEBUG = env.env_flag(ENV, "DEBUG")
    SECRET_KEY = env.env_str(ENV, "SECRET_KEY", "dev-only-insecure-key" if DEBUG else "")
    if not SECRET_KEY:
        raise env.ConfigError("SECRET_KEY must be set when DEBUG is off")
    DATABASES = {"default": env.database_config(ENV, VAR_DIR)}
    REDIS_URL = env.redis_url(ENV)
    POLYGON_REQUESTS_PER_MINUTE = env.env_number(ENV, "POLYGON_REQUESTS_PER_MINUTE", 5)
    SEC_REQUESTS_PER_SECOND = env.env_number(ENV, "SEC_REQUESTS_PER_SECOND", 10)
    Q_WORKERS = env.env_int(ENV, "Q_WORKERS", 2)
    HSTS_SECONDS = env.env_int(ENV, "SECURE_HSTS_SECONDS", 31536000)
    # Events (docs/events.md)
    EVENTS_STREAM_MAXLEN = env.env_int(ENV, "EVENTS_STREAM_MAXLEN", 100000)
    EVENTS_DEDUPE_TTL_SECONDS = env.env_int(ENV, "EVENTS_DEDUPE_TTL_SECONDS", 86400)
    EVENTS_OUTBOX_RETENTION_DAYS = env.env_int(ENV, "EVENTS_OUTBOX_RETENTION_DAYS", 7)
    # Events for one dashboard socket within this many seconds of its last frame share the next frame.
    DASHBOARD_COALESCE_SECONDS = env.env_number(ENV, "DASHBOARD_COALESCE_SECONDS", 0.15)
    HEALTH_MAX_OUTBOX_LAG_SECONDS = env.env_int(ENV, "HEALTH_MAX_OUTBOX_LAG_SECONDS", 120)
    # /healthz shows its details to staff and to `Authorization: Bearer <token>` / `?token=` (docs/security.md).
    HEALTH_TOKEN = env.env_str(ENV, "HEALTH_TOKEN")
except env.ConfigError as error:
    env.exit_on_config_error(error)

EMBEDDED_REDIS = REDIS_URL is None
if EMBEDDED_REDIS:
    embedded_redis.ensure_running(VAR_DIR)
    REDIS_URL = embedded_redis.url_for(VAR_DIR)

ALLOWED_HOSTS = env.env_list(ENV, "ALLOWED_HOSTS") or (
    ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.env_list(ENV, "CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_q",
    "simple_history",
    "tickstock_ops",
    "tickstock_ops.notify",
    "monitors.ipo",
    "monitors.quality",
    "equity_rules",
    "dashboard",
    "demo",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "dashboard.clock.ClockMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],  # the admin's branding (admin/base_site.html)
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context.common",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if not DEBUG:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.env_flag(ENV, "SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # A process's Broadcaster rejoins the dashboard group every minute, so a crashed process's channel
        # leaves the group within five minutes instead of channels-redis' default day. channels-redis waits for
        # a message with a 5 s BZPOPMIN, and redis-py's default socket timeout is also 5 s: an idle wait raced
        # the server's empty reply and failed with "Timeout reading from …". The socket timeout must exceed it.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                   "prefix": env.env_str(ENV, "CHANNELS_PREFIX", "asgi"), "capacity": 1000, "group_expiry": 300},
    }
}

# The ORM broker: unlike django-q2's Redis broker it keeps a task until a worker acknowledges it,
# so a cluster killed mid-task loses nothing (the task is handed out again after `retry` seconds).
Q_CLUSTER = {
    "name": "tickstock",
    "orm": "default",
    "workers": Q_WORKERS,
    "timeout": 300,
    "retry": 360,
    "max_attempts": 3,
    "catch_up": False,
    "poll": 0.5,
    "save_limit": 1000,
    "ack_failures": True,
    "label": "Tasks",
}

DASHBOARD_GROUP = "dashboard"

# What `create_readonly_role` lets the TickStock app read (docs/security.md): the domain apps whole, the core's
# events and alerts; never auth, sessions, the admin log, django-q's tables or notification receivers.
READONLY_ROLE_READS = ["ipo", "quality", "equity_rules",
                       "tickstock_ops.OutboxEvent", "tickstock_ops.Alert", "tickstock_ops.AlertActivity"]

# Sources (docs/configuration.md)
POLYGON_API_KEY = env.env_str(ENV, "POLYGON_API_KEY")
POLYGON_BASE_URL = env.env_str(ENV, "POLYGON_BASE_URL", "https://api.polygon.io")
SEC_USER_AGENT = env.env_str(ENV, "SEC_USER_AGENT", "TickStock Ops ops@example.com")
SEC_BASE_URL = env.env_str(ENV, "SEC_BASE_URL", "https://www.sec.gov")
SEC_DATA_URL = env.env_str(ENV, "SEC_DATA_URL", "https://data.sec.gov")
NASDAQ_BASE_URL = env.env_str(ENV, "NASDAQ_BASE_URL", "https://api.nasdaq.com")
NEWS_FEED_URLS = env.env_list(ENV, "NEWS_FEED_URLS")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.env_str(ENV, "LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# Notifications (docs/notifications.md): the default receiver's Apprise URLs and the dashboard's public address.
try:
    TICKSTOCK_NOTIFY_URLS = env.notify_urls(ENV, "TICKSTOCK_NOTIFY_URLS")
    TICKSTOCK_BASE_URL = env.base_url(ENV, "TICKSTOCK_BASE_URL", "http://127.0.0.1:8000")
except env.ConfigError as error:
    env.exit_on_config_error(error)
