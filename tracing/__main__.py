"""``python -m stbass_tracing``: the same as the ``stbass-trace`` command."""

from ._cli import main

raise SystemExit(main())
