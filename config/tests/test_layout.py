"""The floors of README's Layout, checked on the source: every import, including those inside functions.

core (tickstock_ops) ← domain apps (monitors.ipo, monitors.quality, equity_rules) ← dashboard, demo ← config.
A domain app reaches another only through that app's public `api` module, and no module imports itself back
through a chain of others.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = "tickstock_ops"
DOMAIN = ("monitors.ipo", "monitors.quality", "equity_rules")
ABOVE_DOMAIN = ("dashboard", "demo", "config")
PROJECT = (CORE, *DOMAIN, *ABOVE_DOMAIN)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for top in ("tickstock_ops", "monitors", "equity_rules", "dashboard", "demo", "config"):
        for path in (ROOT / top).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            name = _module_name(path)
            if name.startswith(PROJECT):
                found[name] = path
    return found


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Project modules `module` imports anywhere in its body; `from pkg import name` counts as pkg.name when
    that is a module, else as pkg."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    tree = ast.parse(path.read_text(), str(path))
    for block in ast.walk(tree):
        # Imports only a type checker runs are annotations, not a dependency at run time.
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test):
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(filter(None, [*anchor, base]))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.add(candidate if candidate in known else base)
    return {t for t in targets if t.startswith(PROJECT)}


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {module: _imports(path, module, known) - {module} for module, path in sources.items()}


def _app(module: str) -> str:
    return next(app for app in PROJECT if module == app or module.startswith(app + "."))


def test_each_floor_imports_only_the_floors_below_it():
    wrong = []
    for module, targets in _graph().items():
        app = _app(module)
        for target in targets:
            other = _app(target)
            if other == app:
                continue
            if app == CORE:
                wrong.append(f"{module} (core) imports {target}")
            elif app in DOMAIN and other in ABOVE_DOMAIN:
                wrong.append(f"{module} (domain) imports {target} from a floor above")
            elif app in DOMAIN and other in DOMAIN and target != f"{other}.api":
                wrong.append(f"{module} reaches into {target}; use {other}.api")
            elif app in ("dashboard", "demo") and other == "config":
                wrong.append(f"{module} imports the project module {target}")
    assert wrong == []


def test_no_module_imports_itself_back_through_others():
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" → ".join([*stack[stack.index(target):], target]))
            elif target in graph and target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_checker_sees_imports_hidden_inside_functions_but_not_type_only_ones(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from dashboard import panels\n"
                      "def f():\n    from equity_rules import versions\n    import monitors.ipo.models\n")
    found = _imports(source, "monitors.quality.sample", {"equity_rules.versions", "monitors.ipo.models"})
    assert found == {"equity_rules.versions", "monitors.ipo.models"}


def test_modules_and_functions_stay_small_enough_to_hold_in_ones_head():
    too_big = []
    for module, path in _sources().items():
        source = path.read_text()
        if source.count("\n") > 400:
            too_big.append(f"{module}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 60:
                too_big.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert too_big == []
