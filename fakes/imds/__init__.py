"""An IMDSv2-faithful instance metadata service for many simulated instances at once.

Start it with `start_imds()` (or ``python -m fakes.imds --port 0``); drive it with
`ImdsClient`. Each instance answers under ``/<instance-id>/`` (see `fakes.imds.server`), and
one added with ``listener=True`` also at the root of its own loopback port, as EC2's
169.254.169.254 (see `fakes.imds.listeners`). The tree it serves is `fakes.imds.tree`; each
dated version of the metadata API serves the part AWS had released by then (`fakes.imds.versions`).
"""

from fakes.imds.client import ImdsClient, start_imds
from fakes.imds.credentials import issue_role_credentials
from fakes.imds.model import DEFAULT_INSTANCE_ID, Settings
from fakes.imds.server import IMDS_CAPACITY_FRESH_RPS, IMDS_CAPACITY_RPS

__all__ = ["ImdsClient", "start_imds", "issue_role_credentials", "Settings", "DEFAULT_INSTANCE_ID",
           "IMDS_CAPACITY_RPS", "IMDS_CAPACITY_FRESH_RPS"]
