"""harness reaches training through one narrow door (training/api.py), only from inside functions: importing
the plugin, the spec loader or the gates never imports training, torch or transformers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import harness

HARNESS = Path(harness.__file__).parent
MODULES = ["harness", "harness.plugin", "harness.spec", "harness.gates", "harness.items", "harness.session"]
MODULES += ["harness.report", "harness.promotion", "harness.cli", "harness.world.build", "harness.demo"]


def test_importing_harness_imports_neither_training_nor_torch() -> None:
    code = (
        f"import importlib, json, sys\nfor m in {MODULES!r}: importlib.import_module(m)\n"
        "from harness.gates.registry import kinds\nkinds()  # every built-in gate module\n"
        "print(json.dumps(sorted(m for m in ('training', 'torch', 'transformers', 'peft') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _training_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, where: "function", "type-checking" or "module") of every import of training in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update({id(n): "function" for n in ast.walk(node)})
        elif isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            inside.update({id(n): "type-checking" for n in ast.walk(node) if id(n) not in inside})
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [f"{node.module}.{a.name}" if node.module == "training" else node.module for a in node.names]
        else:
            continue
        found += [(node.lineno, m, inside.get(id(node), "module")) for m in modules if m.split(".")[0] == "training"]
    return found


def test_harness_reaches_training_only_through_training_api_inside_functions() -> None:
    problems = []
    for path in sorted(HARNESS.rglob("*.py")):
        for line, module, where in _training_imports(path):
            at = f"{path.relative_to(HARNESS.parent)}:{line} imports {module}"
            if module != "training.api":
                problems.append(f"{at}: reach training through `from training import api`")
            elif where == "module":
                problems.append(f"{at} at module level: import it inside the function that needs it")
    assert not problems, "\n".join(problems)


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """Each module imported on its own, first: an import cycle shows only for some orders (the spec module's
    gate-class shim once loaded every gate when the import system probed it for __path__)."""
    modules = sorted(
        ".".join(p.relative_to(HARNESS.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in [*HARNESS.rglob("*.py"), *(HARNESS.parent / "training").rglob("*.py")]
        if "data" not in p.relative_to(HARNESS.parent).parts
    )
    code = (
        "import importlib, subprocess, sys\n"
        f"bad = [m for m in {modules!r} if subprocess.run([sys.executable, '-c', f'import {{m}}'],"
        " capture_output=True).returncode]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"modules that fail to import first: {out.stdout}"
