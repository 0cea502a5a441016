"""The shape of ``coaching/``: rooms never reach up into the engine, and no module imports itself back."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import coaching

PACKAGE = Path(coaching.__file__).parent
MODULES = sorted(f"coaching.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__")

# Imports each module in turn with every coaching module forgotten first, and reports what each one loaded.
PROBE = """
import importlib, json, sys
loaded = {}
for name in sys.argv[1:]:
    for old in [m for m in sys.modules if m == "coaching" or m.startswith("coaching.")]:
        del sys.modules[old]
    importlib.import_module(name)
    loaded[name] = sorted(m for m in sys.modules if m.startswith("coaching."))
print(json.dumps(loaded))
"""


def test_no_module_but_the_engine_loads_the_engine() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, *MODULES], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert set(loaded) == set(MODULES)
    pulling_engine = [name for name, modules in loaded.items() if "coaching.engine" in modules]
    assert pulling_engine == ["coaching.engine"]


def _imports(module: str) -> set[str]:
    """The coaching modules ``module`` names in any import statement (TYPE_CHECKING and local ones too)."""
    tree = ast.parse((PACKAGE / f"{module.removeprefix('coaching.')}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # from coaching import store
    return {name for name in found if name in MODULES and name != module}


def test_no_import_cycle_in_coaching() -> None:
    graph = {module: _imports(module) for module in MODULES}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " → ".join((*path[path.index(module) :], module))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())
    assert graph["coaching.engine"] >= {"coaching.negotiations", "coaching.commitments", "coaching.privacy"}


def test_every_command_has_a_room() -> None:
    from coaching import commands as c
    from coaching.engine import HANDLERS, SNOOZES

    kinds = {cls for cls in vars(c).values() if isinstance(cls, type) and issubclass(cls, c.Command)}
    assert kinds - {c.Command, c.RemindLater} == set(HANDLERS)
    assert set(SNOOZES) == {"negotiation", "commitment", "note", "check-in"}


ROOT = PACKAGE.parent
LONGEST_ADAPTER_FUNCTION = 80  # lines; a longer listener or set-up is split into named steps (issue 13)
ENGINE_LINES = 250  # the engine keeps only the transaction runner and the dispatch (issue 13)


def test_no_function_in_the_adapters_is_longer_than_80_lines() -> None:
    long = []
    for path in sorted((ROOT / "adapters").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LONGEST_ADAPTER_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_the_engine_is_under_250_lines() -> None:
    lines = len((PACKAGE / "engine.py").read_text(encoding="utf-8").splitlines())
    assert lines < ENGINE_LINES, f"coaching/engine.py has {lines} lines: move what is not the runner or dispatch down"
