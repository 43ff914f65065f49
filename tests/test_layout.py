"""The code's layout rules, read from the source: no import cycles, the service reaches the
training stack only through `trainables.api`, nothing changes process state at import, and the
result-reading command starts without torch, Ray Train or mmyolo."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.project import ROOT

PACKAGES = ("search", "trainables")
PLAIN_TRAINABLES = {"trainables", "trainables.api", "trainables.contract", "trainables.params",
                    "trainables.dataset_files", "trainables.speed_protocol", "trainables.speed_constraints",
                    "trainables.architecture", "trainables.resources", "trainables.text_encoder", "trainables.values",
                    "trainables.configs", "trainables.configs.recipe"}
"""What the service may import of trainables: the façade and plain data (no torch, Ray or mmyolo)."""


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = project_modules()


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(path: Path, *, in_functions: bool) -> set[str]:
    """The project modules `path` imports (at module level, or anywhere), TYPE_CHECKING blocks aside;
    `from package import submodule` counts as the submodule."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child) or (not in_functions and isinstance(child, ast.FunctionDef)):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                submodules = {f"{child.module}.{alias.name}" for alias in child.names} & MODULES.keys()
                found.update(submodules or {child.module})
            visit(child)

    visit(ast.parse(path.read_text()))
    return found & MODULES.keys()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_project_module_imports_itself_back_at_import_time() -> None:
    graph = {name: imported(path, in_functions=False) for name, path in MODULES.items()}
    assert cycles(graph) == []


def test_the_import_graph_has_no_cycle_even_through_deferred_imports() -> None:
    graph = {name: imported(path, in_functions=True) for name, path in MODULES.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_service_uses_the_training_stack_only_through_the_facade() -> None:
    reached = {(name, other) for name, path in MODULES.items() if name.startswith("search")
               for other in imported(path, in_functions=True)
               if other.startswith("trainables") and other not in PLAIN_TRAINABLES}
    assert reached == set()


def _changes_process_state(node: ast.AST) -> bool:
    """`os.environ[...] = ...`, `os.environ.setdefault/update(...)`, `os.putenv`, `matplotlib.use`."""
    if isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any("environ" in ast.unparse(target) for target in targets)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        called = ast.unparse(node.value.func)
        return called in ("os.putenv", "matplotlib.use") or (
            "environ" in called and called.rsplit(".", 1)[-1] in ("setdefault", "update", "pop"))
    return False


def test_no_module_changes_the_process_environment_when_imported() -> None:
    def module_level(tree: ast.AST):
        for node in ast.iter_child_nodes(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            yield node
            yield from module_level(node)

    offenders = [f"{name}: {ast.unparse(node)}" for name, path in MODULES.items()
                 for node in module_level(ast.parse(path.read_text())) if _changes_process_state(node)]
    assert offenders == []
    assert _changes_process_state(ast.parse('os.environ.setdefault("A", "1")').body[0])


def _loaded(*arguments: str) -> set[str]:
    """The modules a Python process with these arguments imports (`-X importtime`)."""
    run = subprocess.run([sys.executable, "-X", "importtime", *arguments], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}


def _training_stack(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in ("torch", "mmyolo", "mmdet", "mmengine", "transformers")
                  or m == "ray.train" or m.startswith("ray.train."))


def test_reading_results_starts_without_torch_ray_train_or_mmyolo() -> None:
    """`search/pareto.py --help`, as a user starts it, loads none of the training stack."""
    loaded = _loaded(str(ROOT / "search" / "pareto.py"), "--help")
    assert "search.results.across_searches" in loaded
    assert _training_stack(loaded) == []


def test_the_closing_summary_imports_none_of_the_training_stack() -> None:
    loaded = _loaded("-c", "import search.results.closing")
    assert "search.study.plan" in loaded
    assert _training_stack(loaded) == []
