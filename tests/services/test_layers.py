"""The services' packages import only downward, have no import cycle, and the rest of the
app reaches them through each package's public modules (app/services/__init__.py).

Every import is read from the source (ast), those inside functions too: a function-level
import would only hide an upward one."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "app" / "services"

# The layers, lowest first. A package may import its own modules and lower layers only.
LAYERS = {
    "core": 0,
    "inventory": 1,
    "orders": 2,
    "lifecycle": 3,
    "channels": 4, "fulfilment": 4, "returns": 4,
    "notify": 5, "reporting": 5,
}
TOP = 9  # modules directly in app/services (demo): they seed every domain
CALLERS = ["app/views", "app/api", "app/cli.py", "app/webhooks.py", "app/__init__.py", "jobs"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, wherever it stands. For
    ``from a.b import c`` both ``a.b`` and ``a.b.c`` are given (c may be a module)."""
    tree = ast.parse(path.read_text(), str(path))
    package = (name or module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            found.append((node.lineno, source))
            found += [(node.lineno, f"{source}.{alias.name}") for alias in node.names]
    return found


def layer_of(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[:2] != ["app", "services"] or len(parts) < 3:
        return None
    package = parts[2]
    if package in LAYERS:
        return package, LAYERS[package]
    return package, TOP


def service_files() -> list[Path]:
    return sorted(SERVICES.rglob("*.py"))


def test_every_service_package_has_a_layer():
    packages = {p.name for p in SERVICES.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages, "no service packages found"
    assert packages <= set(LAYERS), f"packages without a layer: {packages - set(LAYERS)}"


def upward_imports(files: dict[str, Path] | None = None) -> list[str]:
    """Problems found in ``files`` ({module name: path}; all of app/services by default)."""
    problems, seen = [], set()
    files = files or {module_name(p): p for p in service_files()}
    for name, path in files.items():
        own = layer_of(name)
        if own is None:
            continue
        for line, target in imports_of(path, name):
            if target.startswith(("app.views", "app.api", "app.webhooks", "flask_appbuilder.views")):
                problems.append(f"{name}:{line} imports {target} (services never "
                                "import the web layer)")
                continue
            theirs = layer_of(target)
            if theirs is None or theirs[0] == own[0] or (name, line, theirs[0]) in seen:
                continue
            if theirs[1] >= own[1]:
                seen.add((name, line, theirs[0]))
                problems.append(f"{name}:{line} ({own[0]}) imports {target} "
                                f"({theirs[0]}): not below it")
    return problems


def test_no_service_package_imports_upward_or_sideways():
    assert upward_imports() == []


def test_the_check_sees_upward_imports_hidden_in_functions_and_sideways_ones(tmp_path):
    """The checker itself, on modules written here."""
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\ndef f():\n    from app.services.lifecycle import allocation\n"
                     "    from ..channels import sync\n    from app.services.core import events\n")
    problems = upward_imports({"app.services.inventory.probe": probe})
    assert len(problems) == 2
    assert problems[0].startswith("app.services.inventory.probe:4 (inventory) imports "
                                  "app.services.lifecycle")
    assert "app.services.channels" in problems[1]
    sideways = upward_imports({"app.services.returns.probe": probe})
    assert len(sideways) == 1 and sideways[0].startswith("app.services.returns.probe:5 (returns)")


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in service_files()}
    graph = {}
    for name, path in modules.items():
        graph[name] = {t for _, t in imports_of(path) if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node):
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour[nxt] == WHITE and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(graph):
        if colour[node] == WHITE and (cycle := visit(node)):
            return cycle
    return None


def test_the_services_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 30
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def caller_files() -> list[Path]:
    files = []
    for entry in CALLERS:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_callers_import_only_public_modules_of_a_package():
    problems = []
    for path in caller_files():
        for line, target in imports_of(path):
            parts = target.split(".")
            if parts[:2] != ["app", "services"] or len(parts) < 4:
                continue
            package, module = parts[2], parts[3]
            if package not in LAYERS:
                continue
            public = importlib.import_module(f"app.services.{package}").__all__
            if module not in public:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports app.services."
                                f"{package}.{module}, which app.services.{package} does not offer")
    assert problems == []


@pytest.mark.parametrize("package", sorted(p.name for p in SERVICES.iterdir()
                                             if (p / "__init__.py").exists()))
def test_each_package_says_what_it_offers(package):
    module = importlib.import_module(f"app.services.{package}")
    assert module.__doc__, f"app/services/{package}/__init__.py needs a docstring"
    for name in module.__all__:
        assert (SERVICES / package / f"{name}.py").exists() or \
            (SERVICES / package / name / "__init__.py").exists(), f"{package}.{name} is listed but missing"


# The outside world is spoken to from connectors/ (DESIGN.md "Connectors"); a service calls
# a connector and maps its typed errors. The one exception: the outbox sender classifies
# what a handler let escape (a requests timeout after the request left is "outcome unknown").
CLIENT_LIBRARIES = ("requests", "urllib3", "httpx", "aiohttp", "smtplib", "easypost")
MAY_CLASSIFY_CLIENT_ERRORS = {"app/services/core/outbox_sender.py": {"requests"}}


def test_services_speak_to_the_outside_world_only_through_connectors():
    problems = []
    for path in service_files():
        allowed = MAY_CLASSIFY_CLIENT_ERRORS.get(str(path.relative_to(ROOT)), set())
        for line, target in imports_of(path):
            library = target.split(".")[0]
            if library in CLIENT_LIBRARIES and library not in allowed:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert problems == []
