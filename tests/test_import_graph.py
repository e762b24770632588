"""Imports run one way: `motionchat` never imports `trainer` or `eval`, `trainer` never imports
`eval`, and no two modules import each other, directly or round a longer cycle. Imports inside
functions count (they only hide a cycle); imports under `if TYPE_CHECKING:` do not (they never run).
"""

import ast
import functools
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("motionchat", "trainer", "eval")
# A top-level package may import only those listed for it (besides itself and third parties).
ALLOWED = {"motionchat": set(), "trainer": {"motionchat"}, "eval": {"motionchat", "trainer"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path, known: set[str], package: str = "") -> set[str]:
    """The project modules `path` (in `package`) imports at run time (`from pkg import mod` counts
    as pkg.mod)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name in known}


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (read once per session; do not modify)."""
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    known = {module_name(p) for p in files}
    graph = {}
    for path in files:
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = imported_modules(path, known, package) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_upward_import():
    upward = [
        f"{module} imports {imported}"
        for module, imports in sorted(import_graph().items())
        for imported in sorted(imports)
        if imported.split(".")[0] not in ALLOWED[module.split(".")[0]] | {module.split(".")[0]}
    ]
    assert not upward, "imports against the direction motionchat <- trainer <- eval:\n" + "\n".join(upward)


def test_no_import_cycle():
    graph = import_graph()
    # A package's __init__ that re-exports its submodules is imported by them only as their parent
    # package, which Python runs first anyway: ignore submodule -> own-parent-package edges.
    graph = {m: {i for i in imports if not m.startswith(i + ".")} for m, imports in graph.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x.y\ndef f():\n    import x.z\n")
    assert imported_modules(source, {"x.y", "x.z"}) == {"x.z"}


def test_the_caption_code_does_not_pull_in_torch():
    """`motionchat.data.synth` no longer re-exports the corpus writer, which imports torch."""
    code = "import sys, motionchat.data.synth.captions; assert 'torch' not in sys.modules, 'torch was imported'"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
