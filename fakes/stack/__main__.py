"""``python -m fakes.stack up|down|toxiproxy``: the same as ``bootstorm fakes ...``."""

import sys

from fakes.stack.cli import main

sys.exit(main())
