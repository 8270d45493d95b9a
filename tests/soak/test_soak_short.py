"""The short soak (bench/soak.py --short): the whole site under load with injected faults, as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# The app parts whose load and invariants the CI soak runs (all three faults are injected regardless).
SOAK_APPS = "chat,boards,jobs,ledger"


def soak_db_args() -> list[str]:
    """The suite's database kind: on PostgreSQL the soak creates (and drops) a database of its own there."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return ["--db", "postgres"]
    return ["--db", "sqlite"]


def soak_env() -> dict[str, str]:
    """The soak starts its own Redis and database; it must not inherit the suite's."""
    env = os.environ.copy()
    url = env.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        env["SOAK_PG_URL"] = url.rsplit("/", 1)[0]  # the same server, a database of the soak's own
    for name in ("REDIS_URL", "DATABASE_URL", "SWITCHBOARD_DATA_DIR", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_short_soak_with_faults_keeps_every_invariant():
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--short", "--apps", SOAK_APPS, *soak_db_args()],
        cwd=ROOT,
        env=soak_env(),
        capture_output=True,
        text=True,
        timeout=330,  # a job whose push Redis refused waits for the reconciler: up to 150 s of drain
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("[FAIL")]
    assert result.returncode == 0, "\n".join(failed) + "\n" + output[-8000:]
    assert "soak: PASSED" in result.stdout
    assert "FAIL" not in result.stdout.split("== invariants", 1)[1]
    print(output[-4000:], f"\nshort soak wall time {elapsed:.1f} s")
