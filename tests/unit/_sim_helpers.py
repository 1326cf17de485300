"""Small scenarios built in code for engine tests: one dependency, one call, whatever else a
test needs, validated through the same loader users go through."""

from __future__ import annotations

import copy

from sim.engines.sim import run
from sim.scenario import Scenario


def base(**over) -> dict:
    data = {
        "name": "t",
        "run": {"seed": 1, "horizon": "1h"},
        "fleet": {"size": 200, "arrival": {"kind": "burst"}, "os_boot": "0s"},
        "dependencies": {
            "svc": {
                "protocol": "json",
                "concurrency": 100000,
                "service_time": "10ms",
                "operations": {"Get": {}},
            }
        },
        "bootstrap": {
            "steps": [
                {"name": "get", "call": "svc.Get", "timeout": "1s", "needs": "none",
                 "mark": "ready"},
            ]
        },
    }
    return merge(data, over)


def merge(data: dict, over: dict) -> dict:
    out = copy.deepcopy(data)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def simulate(data: dict, seed: int | None = None):
    return run(Scenario.model_validate(data), seed=seed)
