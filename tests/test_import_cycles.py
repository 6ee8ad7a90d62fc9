"""No new import cycle between crmsync's modules (``sandbox/`` aside).

The import graph is read from the source with ``ast``: every ``import`` and
``from ... import`` statement, at module level or inside a function (a deferred import
still ties the two modules together), each pointing at the module it names (the
submodule for ``from package import submodule``). Its strongly connected components of
more than one module are the cycles. Those listed in :data:`KNOWN` are waiting to be
untangled; this test fails on any other cycle (a known one that shrinks, or is gone, is
fine: take it off the list).

A module's parent packages are not counted as imported with it: a package's
``__init__`` that imports its own submodules is not a cycle of interest.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "connectors", "customers", "mappings", "worker")

# Each a cycle as a set of module names, to be untangled.
KNOWN: list[frozenset[str]] = []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The first-party modules a module imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            # ``from package import submodule`` names the submodule, else the package.
            targets = [t for t in targets[:-1] if t in known] or [base]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_graph_sees_the_imports() -> None:
    edges = graph()
    assert "worker.jobs.broker" in edges["worker.jobs.enqueue"]
    assert "worker.jobs.enqueue" in edges["worker.actors"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    found = cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert found == [frozenset({"a", "b", "c"})]


def test_no_new_import_cycle() -> None:
    new = [sorted(cycle) for cycle in cycles(graph()) if not any(cycle <= known for known in KNOWN)]
    assert not new, f"new import cycle(s): {new}"


def test_the_job_runtime_imports_nothing_of_the_sync_engine() -> None:
    edges = graph()
    reached: set[str] = set()
    todo = [name for name in edges if name.startswith("worker.jobs")]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(edges[name])
    assert not sorted(name for name in reached if name.startswith("worker.sync"))
    assert "worker.actors" not in reached


def test_the_crm_packages_import_nothing_above_the_connectors() -> None:
    edges = graph()
    crm = ("connectors.hubspot", "connectors.salesforce", "connectors.webhooks")
    reached: set[str] = set()
    todo = [name for name in edges if name.startswith(crm)] + ["connectors.registry"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(edges[name])
    assert "connectors.hubspot.webhooks" in reached
    assert not sorted(name for name in reached if name.startswith(("worker", "customers")))


def test_the_sandbox_is_imported_only_by_the_demo_and_sandbox_serve() -> None:
    def imports_sandbox(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(name.split(".")[0] == "sandbox" for name in names):
                return True
        return False

    # The product's packages (the benchmarks, outside the product, use it too).
    importers = sorted(
        name
        for name, path in modules().items()
        if not name.startswith("bench") and imports_sandbox(path)
    )
    assert importers == ["worker.cli.sandbox", "worker.demo", "worker.demo_billing"]
    # And only when they run: the processes' own entry points load none of it.
    code = (
        "import sys, worker.cli, worker.actors, worker.webhooks.app, worker.console.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sandbox'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
