"""The documentation keeps up with the code: every app setting is in its docs page, the README stays short
and links only to pages that exist."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("chat", "jobs", "boards", "ledger")


@pytest.mark.parametrize("app", APPS)
def test_each_apps_docs_page_has_a_settings_table_naming_every_setting(app):
    page = (ROOT / "docs" / f"{app}.md").read_text()
    assert "| setting | default | meaning |" in page
    missing = [name for name in importlib.import_module(f"{app}.conf").DEFAULTS if f"`{name}`" not in page]
    assert missing == []


def test_every_switchboard_setting_the_shared_package_reads_is_documented():
    read = set()
    for path in (ROOT / "switchboard").rglob("*.py"):
        read |= set(re.findall(r"\"(SWITCHBOARD_[A-Z_]+)\"", path.read_text()))
    page = (ROOT / "docs" / "operations.md").read_text()
    assert read and sorted(name for name in read if f"`{name}`" not in page) == []


def test_the_readme_is_short_with_contents_the_two_commands_first_and_links_that_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert "## Contents" in readme
    commands = re.search(r"```sh\n(.*?)```", readme, re.S).group(1).splitlines()
    assert [line.split()[:2] for line in commands[:2]] == [["make", "run"], ["make", "test"]]
    for target in re.findall(r"\]\(((?:docs/)[^)#]+)", readme):
        assert (ROOT / target).exists(), target
    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([a-z][^)#:]*\.md)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}"
