"""Read the 12-factor settings from the environment, failing with one clear line per bad value."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured


class ConfigError(ImproperlyConfigured):
    """A setting from the environment is wrong; the message names it and says how to fix it."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """Parse a boolean environment variable (1/0, true/false, yes/no, on/off)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use 1 or 0 (true/false, yes/no, on/off).")


def env_list(name: str, default: list[str]) -> list[str]:
    """Parse a comma-separated environment variable."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Parse an integer environment variable that must be >= minimum."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer: set it to a whole number.") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}.")
    return value


def database_from_url(url: str, *, data_dir: Path) -> dict:
    """Build a DATABASES entry from DATABASE_URL (sqlite:///path or postgres://...)."""
    import dj_database_url

    scheme = urlparse(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ConfigError(
            f"DATABASE_URL={url!r} has an unsupported scheme {scheme!r}: "
            "use sqlite:///path/to/db.sqlite3 or postgres://user:pass@host:5432/dbname."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except Exception as exc:  # dj-database-url raises several types for malformed URLs
        raise ConfigError(f"DATABASE_URL={url!r} cannot be parsed ({exc}); check its format.") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = config.get("NAME") or ""
        if not name or name == ":memory:":
            raise ConfigError(f"DATABASE_URL={url!r} names no SQLite file: use sqlite:///{data_dir}/db.sqlite3.")
        config.setdefault("OPTIONS", {}).update(sqlite_options())
    elif not config.get("NAME"):
        raise ConfigError(f"DATABASE_URL={url!r} names no database: add /dbname at the end.")
    return config


def sqlite_options() -> dict:
    """SQLite tuned for a web app: WAL journal, a busy timeout, immediate write transactions."""
    return {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }


def redis_url_checked(url: str) -> str:
    """Validate REDIS_URL's shape (redis://, rediss:// or unix://) without connecting."""
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(
            f"REDIS_URL={url!r} has an unsupported scheme {parsed.scheme!r}: "
            "use redis://host:6379/0 or unix:///path/to/redis.sock?db=0 (or unset it for the embedded Redis)."
        )
    if parsed.scheme in {"redis", "rediss"}:
        if not parsed.hostname:
            raise ConfigError(f"REDIS_URL={url!r} names no host: use redis://host:6379/0.")
        try:
            parsed.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ConfigError(f"REDIS_URL={url!r} has a bad port: use redis://host:6379/0.") from None
        db = parsed.path.lstrip("/")
        if db and not db.isdigit():
            raise ConfigError(f"REDIS_URL={url!r} has a bad database number {db!r}: use /0 to /15.")
    elif not parsed.path:
        raise ConfigError(f"REDIS_URL={url!r} names no socket path: use unix:///path/to/redis.sock.")
    elif parsed.hostname:
        # unix://data/redis.sock parses as host "data", path "/redis.sock": a different socket than meant.
        raise ConfigError(
            f"REDIS_URL={url!r} reads {parsed.hostname!r} as a host: give the socket's absolute path, "
            "unix:///absolute/path/to/redis.sock (three slashes)."
        )
    return url
