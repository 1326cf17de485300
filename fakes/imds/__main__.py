"""``python -m fakes.imds --port 0 [--moto URL] [--config FILE.json]``

Serves the metadata service on 127.0.0.1 and prints ``{"ready": true, "port": N, "name":
"imds"}`` once it accepts connections. The config file (JSON) may hold ``defaults`` (settings
for every instance), ``instances`` (specs as the control API takes them) and
``default_instance`` (false for none at the root path, or a spec; default: one instance
``i-0123456789abcdef0`` with role ``bootstorm-instance``).

The key AssumeRole is called with comes from ``IMDS_MOTO_ACCESS_KEY_ID`` and
``IMDS_MOTO_SECRET_ACCESS_KEY`` (environment, so it never shows in a process list); without
them the dummy ``testing`` key is used, which moto accepts only while IAM enforcement is off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys


from fakes._serve import serve_until_signal
from fakes.imds.control import RESET_KEY
from fakes.imds.credentials import moto_issuer, synthetic_issuer
from fakes.imds.model import DEFAULT_INSTANCE_ID, Settings
from fakes.imds.server import build_app
from fakes.imds.state import ImdsState


def _configurer(config: dict):
    def apply(state: ImdsState) -> None:
        state.defaults = Settings()
        state.defaults.update(config.get("defaults") or {})
        root = config.get("default_instance", True)
        if root is True:
            state.add_default()
        elif isinstance(root, dict):
            state.add({"instance_id": DEFAULT_INSTANCE_ID, **root}, at_root=True)
        for spec in config.get("instances") or []:
            spec = dict(spec)
            at_root = bool(spec.pop("at_root", False))
            state.add(spec, at_root=at_root)

    return apply


async def _serve(port: int, moto_url: str | None, state: ImdsState, apply) -> None:
    app = build_app(state)
    app[RESET_KEY] = apply
    await serve_until_signal(app, port, "imds", moto=moto_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.imds", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--moto", default=None, help="moto server URL issuing role credentials via STS")
    parser.add_argument("--config", default=None, help="JSON file: defaults, instances, default_instance")
    args = parser.parse_args(argv)
    config: dict = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            config = json.load(fh)
        if not isinstance(config, dict):
            print(f"{args.config}: expected a JSON object, got {type(config).__name__}", file=sys.stderr)
            return 2
    caller = (os.environ.get("IMDS_MOTO_ACCESS_KEY_ID", "testing"),
              os.environ.get("IMDS_MOTO_SECRET_ACCESS_KEY", "testing"))
    state = ImdsState(moto_issuer(args.moto, caller) if args.moto else synthetic_issuer())
    apply = _configurer(config)
    try:
        apply(state)
    except (ValueError, TypeError) as exc:
        print(f"{args.config}: invalid IMDS configuration: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_serve(args.port, args.moto, state, apply))
    return 0


if __name__ == "__main__":
    sys.exit(main())
