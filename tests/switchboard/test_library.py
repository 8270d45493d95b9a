"""The shared package is a library: it imports no app and no site, and names none of them."""

import re
import subprocess
import sys

from tests.conftest import ROOT

APPS_AND_SITE = ("chat", "jobs", "boards", "ledger", "config")

SCRIPT = """
import importlib, pkgutil, sys
import django
django.setup()
import switchboard
names = [info.name for info in pkgutil.walk_packages(switchboard.__path__, "switchboard.")]
for name in names:
    importlib.import_module(name)
from django.core.management import call_command
call_command("check")
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(APPS_AND_SITE))
print("modules", len(names), "loaded", loaded)
""".replace("APPS_AND_SITE", repr(APPS_AND_SITE))


def test_every_switchboard_module_imports_with_only_switchboard_installed_and_loads_no_app():
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.switchboard.settings_alone",
    }
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("loaded []"), result.stdout
    last = result.stdout.strip().splitlines()[-1].split()
    assert int(last[1]) >= 10


def test_switchboard_sources_name_no_app_and_no_site_url():
    pattern = re.compile(r"\b(chat|boards|ledger|config\.asgi)\b|\bjobs[:.]|['\"]jobs\b|\{% url '(home|login|logout)'")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in (ROOT / "switchboard").rglob("*")
        if path.suffix in {".py", ".html", ".js", ".css"}
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_the_modules_a_hosts_asgi_py_and_settings_import_load_before_django_is_set_up():
    """A host's asgi.py imports switchboard.asgi before get_asgi_application() sets Django up."""
    script = "import switchboard.asgi, switchboard.http, switchboard.conf, switchboard.registry; print('ok')"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.switchboard.settings_alone",
    }
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
