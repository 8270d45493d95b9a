"""Switchboard site settings, read from the environment (12-factor). See docs/operations.md: Configuration."""

from __future__ import annotations

import os
from pathlib import Path

from django.utils.csp import CSP

from config.env import (
    ConfigError,
    database_from_url,
    database_pool_options,
    env_bool,
    env_int,
    env_list,
    redis_url_checked,
)
from switchboard.connections import cache_config, rq_queue_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SWITCHBOARD_DATA_DIR", BASE_DIR / "data"))

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigError("SECRET_KEY is not set: with DEBUG=0 set SECRET_KEY to a long random string.")
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
    "ninja",  # django-ninja: its static files serve the API's docs page offline (no CDN)
    "config",
    "switchboard",
    "boards",
    "chat",
    "jobs",
    "ledger",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "switchboard.limits.BodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            # Needed by the admin; our own pages build context from providers (switchboard.providers).
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# -- database: DATABASE_URL, default SQLite in DATA_DIR ----------------------------------------
DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}", data_dir=DATA_DIR
    )
}
# DATABASE_POOL=1: a psycopg connection pool per process (PostgreSQL only; see docs/operations.md).
if (DATABASE_POOL := database_pool_options(DATABASES["default"])) is not None:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = DATABASE_POOL
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # Tests use a file (not :memory:) so that several processes can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- Redis: REDIS_URL, default the embedded redis-server on a unix socket in DATA_DIR -----------
EMBEDDED_REDIS = "REDIS_URL" not in os.environ
REDIS_URL = redis_url_checked(os.environ.get("REDIS_URL") or f"unix://{DATA_DIR / 'redis.sock'}?db=0")

# One REDIS_URL for every client: a redis+sentinel:// URL becomes django-redis's SentinelClient and
# django-rq's SENTINELS/MASTER_NAME (switchboard.connections builds both).
CACHES = {"default": {**cache_config(REDIS_URL), "KEY_PREFIX": "sb-cache"}}

RQ_QUEUES = {name: rq_queue_config(REDIS_URL, DEFAULT_TIMEOUT=300) for name in ("high", "default", "low", "system")}
RQ_SHOW_ADMIN_LINK = True
# The demo site offers the demo jobs (countdown, fail, slow, flaky, noop); a host's catalog has none of them.
JOBS_DEMO_JOBS = True
# rqworker and rqworker-pool use the jobs app's worker and job classes (run history hooks, Django Tasks).
RQ = {"WORKER_CLASS": "jobs.worker.JobsWorker", "JOB_CLASS": "jobs.worker.JobsJob"}
# Django's Tasks API (django.tasks) runs on rq through the jobs app's backend (django-tasks-rq).
TASKS = {"default": {"BACKEND": "jobs.tasks_backend.JobsTaskBackend", "QUEUES": ["high", "default", "low"]}}

# -- auth, sessions, security --------------------------------------------------------------------
# Sign-ins are throttled after SWITCHBOARD_LOGIN_FAILURES_PER_USER / _PER_ADDRESS failures (switchboard.limits).
AUTHENTICATION_BACKENDS = ["switchboard.limits.LoginThrottleBackend", "django.contrib.auth.backends.ModelBackend"]
SWITCHBOARD_LOGIN_FAILURES_PER_USER = env_int("LOGIN_FAILURES_PER_USER", 5, minimum=1)
SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
SWITCHBOARD_LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 900, minimum=1)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# A strict Content-Security-Policy on every response: our own scripts, styles and images only, nothing
# inline (templates load static files; progress bars are <progress> elements), no plugins, no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 256 * 1024, minimum=1024)
SWITCHBOARD_MAX_STREAMS_PER_CLIENT = env_int("MAX_STREAMS_PER_CLIENT", 50, minimum=1)
# Addresses of the reverse proxies whose X-Forwarded-For/-Proto uvicorn trusts (run_site passes them on);
# default none: the client address is the connection's, which a client cannot forge.
FORWARDED_ALLOW_IPS = env_list("FORWARDED_ALLOW_IPS", [])
# A job's progress board (job-<id>) is private: its run's owner and staff read it (docs/security.md).
BOARDS_READ_PERMISSION = "jobs.interface.board_readable"
# Links only staff see in the site's navigation: the operations page (config.views.ops).
SWITCHBOARD_NAV_STAFF = [("Operations", "ops")]
# The navigation lists the installed apps (their AppConfig.nav_url), then these.
SWITCHBOARD_NAV_EXTRA = [("Admin", "admin:index")]
# The JSON API at /api/ (config/urls.py includes switchboard.api.api_urls()): URL prefix -> each app's Router.
SWITCHBOARD_API_ROUTERS = {
    "chat": "chat.api.router",
    "boards": "boards.api.router",
    "jobs": "jobs.api.router",
    "ledger": "ledger.api.router",
}
# run_site: migrate, then load the demo data (config/management/commands/demo_setup.py).
SWITCHBOARD_SETUP_COMMANDS = ["demo_setup"]

# -- i18n, static ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
# WhiteNoise serves the static files, so switchboard.asgi's wrapper need not (SWITCHBOARD_SERVE_STATIC).
SWITCHBOARD_SERVE_STATIC = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"console": {"()": "switchboard.logformat.ProblemFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "console"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "rq.worker": {"level": os.environ.get("RQ_LOG_LEVEL", "INFO")},
        # rqcron prints its steps itself; rq's cron logger would repeat them and log every enqueue.
        "rq.cron": {"level": os.environ.get("RQ_CRON_LOG_LEVEL", "WARNING")},
    },
}
