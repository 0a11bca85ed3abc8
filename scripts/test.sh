#!/usr/bin/env bash
# The README's second command: set up, then run every check CI runs:
# mypy --strict, the docs build (warnings are errors) and pytest on both backends.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# mypy cannot follow setuptools' package-dir mapping: show it tracing/ as stbass_tracing.
mkdir -p build/mypy
ln -sfn ../../tracing build/mypy/stbass_tracing
echo "== mypy --strict (stbass, stbass_tracing, examples)"
MYPYPATH=build/mypy .venv/bin/python -m mypy stbass build/mypy/stbass_tracing/ examples tests/type_tests
if [ -f docs/conf.py ]; then
    echo "== docs (sphinx, warnings are errors)"
    .venv/bin/python -m sphinx -W --keep-going -q -b html docs build/docs
fi
echo "== pytest (asyncio and trio)"
.venv/bin/python -m pytest "$@"
