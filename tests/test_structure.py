"""The shape of the code, held by a test: no import circles among bridge/, adapters/ and jobs/;
no module over 300 lines; adapters speak only the channel contract (and load no Flask); only
the registry names a concrete adapter; the routing engine and the ingest decision stay pure."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bridge", "adapters", "jobs")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules NAME imports, at any depth of its code (function bodies too)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from pkg import name`, pkg itself
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    assert circles(graph()) == []


def test_no_module_over_300_lines():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 300}
    assert long == {}


def test_an_adapter_loads_no_flask():
    import subprocess
    import sys

    code = "import sys, adapters.wechat.oa; sys.exit('flask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_adapters_import_only_the_channel_contract_of_the_bridge():
    for name, targets in graph().items():
        if name.startswith("adapters"):
            bridge = {t for t in targets if t.startswith(("bridge", "jobs"))}
            assert bridge <= {"bridge", "bridge.channels", "bridge.channels.contract"}, (name, bridge)


def test_only_the_registry_names_a_concrete_adapter():
    importers = {name for name, targets in graph().items()
                 if name.startswith("bridge") and any(t.startswith("adapters") for t in targets)}
    assert importers == {"bridge.channels.registry"}


def test_the_pure_deciders_touch_no_flask_database_session_or_redis():
    for name in ("bridge/routing.py", "bridge/ingest/decision.py", "bridge/autoreply.py"):
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in ("flask", "redis", "rq", "requests")
                    or m in ("bridge.infra.db", "sqlalchemy.orm")}, name



def fixtures_of(path: Path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list)}


def test_tests_take_the_shared_fixtures_from_the_plugins_alone():
    """tests/conftest.py loads tests.browser and tests.fake_wechat as plugins; a test module that
    imports one of their fixtures again gets a second copy of it — for the browser, a second
    playwright inside the first one's loop, which fails every browser test after it."""
    plugins = {f"tests.{name}": fixtures_of(ROOT / "tests" / f"{name}.py") for name in ("browser", "fake_wechat")}
    offenders = [f"{path.name}: {alias.name}" for path in (ROOT / "tests").glob("test_*.py")
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.ImportFrom) and node.module in plugins
                 for alias in node.names if alias.name in plugins[node.module]]
    assert plugins["tests.browser"] and offenders == []
