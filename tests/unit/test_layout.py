"""The package layout: import-linter's contracts (pyproject.toml, [tool.importlinter]) hold.

Layers follow the data path (cli → serve → export → estimators | classic → inference |
training → models | preprocess → data), the shared modules import no stage, and no sibling
modules or sub-packages import each other in a cycle.
"""

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
