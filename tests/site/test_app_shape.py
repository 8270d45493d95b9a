"""The four apps share one shape: a public interface.py, imports that only go downward, modules of
readable size."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("chat", "jobs", "boards", "ledger")


@pytest.mark.parametrize("app", APPS)
def test_every_app_has_an_interface_with_all_that_imports(app):
    interface = importlib.import_module(f"{app}.interface")
    assert interface.__all__
    for name in interface.__all__:
        assert getattr(interface, name) is not None


def _modules(app: str) -> dict[str, Path]:
    modules = {}
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_jobs_modules_import_each_other_without_a_circle():
    modules = _modules("jobs")
    graph = {name: {dep for dep in _top_level_imports(path) if dep in modules and dep != name}
             for name, path in modules.items()}  # fmt: skip
    # a package's __init__ importing its submodules is not a cycle through the package itself
    for name in graph:
        graph[name] = {dep for dep in graph[name] if not name.startswith(dep + ".")}
    done, stack = set(), []

    def visit(name):
        if name in stack:
            raise AssertionError("import circle: " + " -> ".join([*stack[stack.index(name) :], name]))
        if name in done:
            return
        stack.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        stack.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def _function_local_imports(path: Path) -> list[tuple[int, str]]:
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    comment = lines[inner.lineno - 2].strip()
                    found.append((inner.lineno, comment))
    return found


def test_jobs_has_function_local_imports_only_for_optional_dependencies_and_says_so():
    """An import inside a function is for an optional dependency, or for models in an AppConfig hook (the app
    registry is not ready when apps.py is imported), and the comment above it says which."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _modules("jobs").values()
        for line, comment in _function_local_imports(path)
        if not (comment.startswith("#") and ("optional" in comment or "app registry" in comment))
    ]
    assert offenders == []


# Known exceptions, each with its reason: split them, then remove them from here.
LONG_MODULES = {
    "switchboard/hub.py",  # 454 lines since issue 12's reconnect work; to split (the hub, its subscriptions)
}


def test_no_module_passes_about_400_lines_but_the_known_ones():
    long = [
        f"{path.relative_to(ROOT)}: {count}"
        for app in (*APPS, "switchboard", "config")
        for path in (ROOT / app).rglob("*.py")
        if path.relative_to(ROOT).as_posix() not in LONG_MODULES and (count := len(path.read_text().splitlines())) > 420
    ]
    assert long == []


@pytest.mark.parametrize("app", APPS)
def test_page_provider_settings_are_app_page_providers_read_through_the_apps_context(app, settings):
    from django.utils.module_loading import import_string

    from switchboard.conf import AppSettings

    conf = importlib.import_module(f"{app}.conf")
    context = importlib.import_module(f"{app}.context")
    assert isinstance(conf.setting, AppSettings), "one settings helper for the four apps"
    names = [name for name in conf.DEFAULTS if name.endswith("_PROVIDERS")]
    assert len(names) >= 2
    assert not {"CHAT_ROOM_PAGE", "CHAT_INDEX_PAGE", "BOARDS_PAGE_PROVIDERS"} & conf.DEFAULTS.keys()
    for name in names:
        page = name.removeprefix(f"{app.upper()}_").removesuffix("_PROVIDERS").lower()
        reader = getattr(context, f"{page}_providers")
        assert reader() == [import_string(path) for path in conf.DEFAULTS[name]]
        setattr(settings, name, conf.DEFAULTS[name][:1])
        assert reader() == [import_string(conf.DEFAULTS[name][0])], "the setting is read when used"
