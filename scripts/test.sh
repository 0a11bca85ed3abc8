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
# (examples/ is on the path too: the Temporal examples share _local_temporal.py)
MYPYPATH=build/mypy:examples .venv/bin/python -m mypy stbass build/mypy/stbass_tracing/ examples tests/type_tests
if [ -f docs/conf.py ]; then
    echo "== docs (sphinx, warnings are errors)"
    .venv/bin/python -m sphinx -W --keep-going -q -b html docs build/docs
fi
echo "== pytest (asyncio and trio)"
if [ "$#" -eq 0 ]; then
    # the whole suite: one worker per core, each test file on one worker (its
    # servers and session fixtures stay together)
    .venv/bin/python -m pytest -n 2 --dist loadfile --durations=15
else
    .venv/bin/python -m pytest "$@"
fi
# The cancellation races again on the newest Python the machine has (asyncio's
# cancellation bookkeeping changed in 3.12 and 3.13), on a full run only.
if [ "$#" -eq 0 ]; then
    newest=""
    for v in 3.14 3.13 3.12; do
        if command -v "python$v" >/dev/null 2>&1 && "python$v" -c "" 2>/dev/null; then
            newest=$(command -v "python$v")
            break
        fi
        # pyenv installs versions its shims may not expose: look for them directly
        for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do
            if [ -x "$p" ] && "$p" -c "" 2>/dev/null; then
                newest="$p"
            fi
        done
        [ -n "$newest" ] && break
    done
    if [ -n "$newest" ]; then
        echo "== asyncio cancellation races on $("$newest" --version)"
        venv=".venv-py$("$newest" -c 'import sys; print("%d%d" % sys.version_info[:2])')"
        if [ ! -x "$venv/bin/python" ]; then
            "$newest" -m venv "$venv"
        fi
        "$venv/bin/python" -m pip install -q -e ".[trio,tracing]" pytest pytest-timeout hypothesis \
            > "$venv/install.log" 2>&1 || { tail -n 20 "$venv/install.log"; exit 1; }
        "$venv/bin/python" -m pytest -q tests/test_asyncio_cancellation.py tests/test_checkpoints.py \
            tests/test_asyncio_fallback_ops.py tests/test_park.py
    else
        echo "== asyncio cancellation races on a newer Python: none found beside $(.venv/bin/python --version)"
    fi
fi
