"""Settings come from the environment; a bad value stops the start with one clear line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ConfigError, database_from_url, env_bool, env_int, redis_url_checked
from switchboard.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_sqlite_default_uses_wal_and_a_busy_timeout(tmp_path):
    config = database_from_url(f"sqlite:///{tmp_path}/x.sqlite3", data_dir=tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["timeout"] >= 5


def test_postgres_url_is_parsed(tmp_path):
    config = database_from_url("postgres://postgres@127.0.0.1:5432/switchboard", data_dir=tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["NAME"] == "switchboard"
    assert config["PORT"] == 5432


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("mysql://x@y/z", "unsupported scheme 'mysql'"),
        ("postgres://postgres@127.0.0.1:5432", "names no database"),
        ("sqlite://", "names no SQLite file"),
    ],
)
def test_bad_database_url_names_the_setting_and_the_fix(tmp_path, url, fragment):
    with pytest.raises(ConfigError, match="DATABASE_URL") as info:
        database_from_url(url, data_dir=tmp_path)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("http://localhost:6379", "unsupported scheme"),
        ("redis://:6379/0", "names no host"),
        ("redis://localhost:notaport/0", "bad port"),
        ("redis://localhost:6379/abc", "bad database number"),
        ("unix://data/redis.sock", "absolute"),
    ],
)
def test_bad_redis_url_names_the_setting_and_the_fix(url, fragment):
    with pytest.raises(ConfigError, match="REDIS_URL") as info:
        redis_url_checked(url)
    assert fragment in str(info.value)


def test_good_redis_urls_pass():
    assert redis_url_checked("redis://127.0.0.1:6379/3")
    assert redis_url_checked("unix:///tmp/redis.sock?db=0")


def test_env_bool_and_int(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ConfigError, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG", False)
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ConfigError, match="not an integer"):
        env_int("X_NUM", 1)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL='mysql://x@y/z' has an unsupported scheme"),
        ({"REDIS_URL": "http://nope"}, "REDIS_URL='http://nope' has an unsupported scheme"),
        ({"DEBUG": "0"}, "SECRET_KEY is not set"),
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
    ],
)
def test_manage_py_fails_with_one_clear_line_not_a_traceback(env, fragment):
    result = manage("check", **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ")
    assert fragment in lines[0]


def test_run_site_refuses_a_redis_that_does_not_answer():
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = manage("run_site", "--no-setup", REDIS_URL=url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"REDIS_URL={url} does not answer" in result.stderr
    assert "unset REDIS_URL to use the embedded one" in result.stderr
