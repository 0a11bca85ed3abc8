#!/usr/bin/env bash
# Creates .venv beside the project and installs stbass with every extra the demo and
# the tests need. Re-installs only when pyproject.toml changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PY" --version)"
    "$PY" -m venv .venv
fi
stamp=.venv/.stbass-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing stbass[dev] into .venv (log: .venv/install.log)"
    if ! { .venv/bin/python -m pip install --upgrade pip \
            && .venv/bin/python -m pip install -e ".[dev]"; } > .venv/install.log 2>&1; then
        tail -n 40 .venv/install.log
        echo "setup: pip install failed (full log: .venv/install.log)" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
