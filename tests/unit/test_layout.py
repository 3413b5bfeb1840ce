"""The package layout: import-linter's contracts (pyproject.toml, [tool.importlinter]) hold.

Layers follow the data path (cli → serve → export → estimators | classic → inference |
training → models | preprocess → data), the shared modules import no stage, and no sibling
modules or sub-packages import each other in a cycle.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is missing: pip install -e '.[dev]' (it is in the dev extra)")
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([exe, "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_import_contracts_are_kept():
    result = lint_imports(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    """The check can fail: a data module that imports the CLI is reported."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    package = tmp_path / "src" / "sentirnn"
    shutil.copytree(ROOT / "src" / "sentirnn", package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (package / "data" / "splits.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom sentirnn.cli import app  # noqa: E402,F401\n")
    result = lint_imports(tmp_path, tmp_path / "src")
    assert result.returncode != 0
    assert "Layers follow the data path" in result.stdout and "BROKEN" in result.stdout
    assert "sentirnn.data.splits -> sentirnn.cli" in result.stdout


def local_imports_without_reason(path: Path) -> list[str]:
    """Imports inside functions whose comment (on the line, or above the import block) gives
    no reason: "optional: …" (an extra) or "start-up: …" (a cost paid only when needed)."""
    lines = path.read_text(encoding="utf-8").splitlines()

    def reason(node: ast.stmt) -> str:
        last = lines[node.end_lineno - 1]
        if "#" in last:
            return last.split("#", 1)[1]
        i = node.lineno - 2
        while i >= 0:  # up over the block's other imports, blank lines and a try:
            text = lines[i].strip()
            if text.startswith("#"):
                return text
            if text and not text.startswith(("import ", "from ", "try:", ")")) \
                    and not text.endswith(","):
                return ""
            i -= 1
        return ""

    found = []
    for func in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                why = reason(node)
                if "optional:" not in why and "start-up:" not in why:
                    found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found))


def test_every_function_local_import_says_why():
    package = ROOT / "src" / "sentirnn"
    missing = [line for path in sorted(package.rglob("*.py"))
               for line in local_imports_without_reason(path)]
    assert not missing, ("import at the top of the module, or say why not in a comment: "
                         "'# optional: …' or '# start-up: …'\n" + "\n".join(missing))


def test_the_reason_check_can_fail(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import json\n\n\n"
                      "def g():\n    # start-up: pandas costs ~0.7 s\n    import pandas\n\n"
                      "    from numpy import (\n        array,\n    )\n\n\n"
                      "def h():\n    try:\n        import optuna  # optional: the 'tune' extra\n"
                      "    except ImportError:\n        pass\n", encoding="utf-8")
    assert local_imports_without_reason(module) == [f"{module}:2: import json"]
