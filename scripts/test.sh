#!/usr/bin/env bash
# The README's second command: set up, then run every check CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== mypy --strict"
.venv/bin/python -m mypy stbass tracing examples
echo "== pytest (asyncio and trio)"
.venv/bin/python -m pytest "$@"
