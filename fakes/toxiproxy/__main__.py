"""Entry point: ``python -m fakes.toxiproxy [--host 127.0.0.1] [--port 8474]``."""

import sys

from fakes.toxiproxy._cli import main

if __name__ == "__main__":
    sys.exit(main())
