"""What the install tests share: the project's wheel, built once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "data", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", "docs"
)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built with pip from a copy of the tree (the work tree keeps no build/)."""
    source = tmp_path_factory.mktemp("source") / "switchboard"
    shutil.copytree(ROOT, source, ignore=COPY_IGNORE)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)])
    (built,) = out.glob("django_switchboard-*.whl")
    return built


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``; fail the test with its output when it does not exit 0."""
    kwargs.setdefault("timeout", 300)
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    return result
