"""``python -m sim.cli``: the same as the ``bootstorm`` console script."""

import sys

from sim.cli import main

sys.exit(main())
