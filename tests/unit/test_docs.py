"""The docs site builds with ``mkdocs build --strict``, offline.

Strict mode turns every warning into a failure: a link to a missing page or anchor, a page
under docs/ that the nav leaves out, a nav entry without its page, an API reference
(mkdocstrings) to a moved or renamed object, and a CLI reference
(scripts/mkdocs_cli_reference.py) whose Typer app cannot be loaded. The proxy variables
point at a closed local port, so a plugin that tried to download something fails here too.
Quick checks beside it: every `sentirnn.…` module path named in the docs' prose exists, and
every file the README links to.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOTTED = re.compile(r"`(sentirnn(?:\.[A-Za-z_]\w*)+)")


def _defined(dotted: str) -> bool:
    """Whether `sentirnn.a.b.name` is a module of src/, or a name its longest module holds."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT.joinpath("src", *parts[:i])
        for module in (base.with_suffix(".py"), base / "__init__.py"):
            if module.is_file():
                rest = parts[i:]
                text = module.read_text(encoding="utf-8")
                return not rest or re.search(rf"\b{re.escape(rest[0])}\b", text) is not None
    return False


def test_module_paths_named_in_docs_exist():
    # prose names modules in backticks (`sentirnn.training.allocator`); the build checks only
    # the API reference's paths, so a module that moves would leave these behind unnoticed
    missing = sorted({f"{page.name}: {name}" for page in (ROOT / "docs").glob("*.md")
                      for name in DOTTED.findall(page.read_text(encoding="utf-8"))
                      if not _defined(name)})
    assert not missing, "docs name modules or objects that src/ does not have:\n" + "\n".join(
        missing)


def test_readme_links_to_files_that_exist():
    # the README is not part of the site, so the strict build does not check its links
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {m.split("#")[0] for m in re.findall(r"\]\(([^)\s]+)\)", readme)
               if "://" not in m and not m.startswith("#")}
    missing = sorted(t for t in targets if not (ROOT / t).exists())
    assert not missing, f"README.md links to missing files: {missing}"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        pytest.fail("mkdocs is not installed: run 'bash scripts/setup.sh --test' (dev extra)")
    offline = {k: "http://127.0.0.1:9" for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                                                  "https_proxy", "ALL_PROXY", "all_proxy")}
    env = {**os.environ, **offline, "NO_PROXY": "", "no_proxy": "",
           "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner, not a warning
    site = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    if run.returncode != 0:
        pytest.fail("mkdocs build --strict failed:\n"
                    + "\n".join(warnings or run.stderr.splitlines()[-30:]), pytrace=False)
    # the generated references are really there, not empty pages
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "sentirnn train" in cli and "--max-epochs" in cli and "Example" in cli
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("SentimentClassifier", "LanguageModel", "BaselineClassifier",
                 "EnsembleClassifier", "MultiLabelClassifier", "read_dataset", "read_texts"):
        assert name in api, f"{name} is missing from the API reference"
