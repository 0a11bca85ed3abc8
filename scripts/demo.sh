#!/usr/bin/env bash
# The README's first command: set up, then run the traced demo on asyncio and on trio.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python examples/demo.py "$@"
