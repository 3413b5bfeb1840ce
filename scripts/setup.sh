#!/usr/bin/env bash
# Set up sentirnn in ./.venv. Usage: bash scripts/setup.sh [--test]
#   (no flag)  the package and what `sentirnn demo` needs
#   --test     also serving, export, explanation and tuning extras and the test tools
# torch is installed first, pinned, so that pip takes the CPU wheel where one is at hand
# instead of resolving `torch>=2.3` to a multi-GB CUDA build. constraints.txt pins every
# other package to the versions the test suite last passed with.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras="."
if [ "${1:-}" = "--test" ]; then extras=".[serve,export,explain,tune,dev]"; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e "$extras"
# The browser test drives Debian's Chromium through Playwright (never Playwright's download).
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: chromium is missing and cannot be installed here (needs root and apt-get);" \
         "install it yourself, or tests/e2e/test_browser.py skips (and fails under CI)"
  fi
fi
# attention.png of a translator labels its axes with Chinese characters: matplotlib's own fonts
# have none (boxes), so a CJK font comes from the system (WenQuanYi Micro Hei, 5 MB).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null
  else
    echo "setup: no font with Chinese characters; translation heat-maps will show boxes" \
         "(install one, e.g. apt-get install fonts-wqy-microhei)"
  fi
fi
echo "sentirnn is set up in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
