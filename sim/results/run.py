"""The Run: everything one engine run produced, and its files."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sim.errors import InvalidRunFolder
from sim.results.attempts import AttemptTable
from sim.results.reading import check_fields, read_json
from sim.results.series import DependencySeries

__all__ = ["FaultWindow", "RunMeta", "Run"]


@dataclass
class FaultWindow:
    """A fault as applied: from ``start`` to ``end`` (seconds from run start)."""

    kind: str
    target: str
    start: float
    end: float
    params: dict = field(default_factory=dict)


@dataclass
class RunMeta:
    engine: str
    seed: int
    scenario_name: str
    scenario_hash: str
    scenario_file: str | None
    horizon: float
    started_at: str  # ISO 8601 wall clock
    wall_seconds: float = 0.0
    versions: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # validity warnings
    partial: bool = False  # interrupted: what is here is what had happened so far
    sim_end: float = 0.0  # simulated/elapsed seconds the run covered
    instances: int = 0
    # exec: the scenario's times were multiplied by this; times in the run are wall seconds,
    # metrics are converted back to the scenario's clock (seconds / time_scale).
    time_scale: float = 1.0
    isolation: str | None = None  # exec: how instances were isolated ("env", "netns"); None: n/a


@dataclass
class Run:
    meta: RunMeta
    attempts: AttemptTable
    dependencies: dict[str, DependencySeries]
    faults: list[FaultWindow]
    scenario: dict  # the validated scenario, as plain data (SLOs, names, settings)

    def write(self, folder: Path) -> None:
        """Write the raw run (not the report) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.json").write_text(json.dumps(asdict(self.meta), indent=2, default=_json))
        (folder / "scenario.json").write_text(json.dumps(self.scenario, indent=2, default=_json))
        (folder / "faults.json").write_text(
            json.dumps([asdict(f) for f in self.faults], indent=2, default=_json)
        )
        self.attempts.write_csv(folder / "attempts.csv")
        deps = folder / "dependencies"
        deps.mkdir(exist_ok=True)
        caps = {}
        for name, series in self.dependencies.items():
            series.write_csv(deps / f"{name}.csv")
            series.write_histogram(deps / f"{name}.latency.npz")
            caps[name] = series.capacity_rps
        (deps / "capacity.json").write_text(json.dumps(caps, default=_json))

    @classmethod
    def read(cls, folder: Path) -> "Run":
        """The run ``write`` wrote into ``folder``. A missing file, bad JSON, a field of the
        wrong type or a bad CSV cell is ``InvalidRunFolder`` naming the file and the field or
        line and column (``sim.results.reading``)."""
        folder = Path(folder)
        meta = check_fields(folder / "run.json",
                            read_json(folder / "run.json", dict, "the run's metadata"), RunMeta)
        for name in ("time_scale", "horizon"):  # divided by and divided into
            value = getattr(meta, name)
            if not (value > 0 and math.isfinite(value)):
                raise InvalidRunFolder(f"{folder / 'run.json'}: {name}: expected a number > 0, "
                                       f"got {value!r}")
        scenario = read_json(folder / "scenario.json", dict, "the run's scenario")
        faults_path = folder / "faults.json"
        faults = [check_fields(faults_path, f, FaultWindow, f"[{i}]") for i, f in
                  enumerate(read_json(faults_path, list, "the run's fault timeline"))]
        attempts = AttemptTable.read_csv(folder / "attempts.csv")
        deps_dir = folder / "dependencies"
        caps = {}
        if deps_dir.exists():
            caps = read_json(deps_dir / "capacity.json", dict, "each dependency's capacity")
        deps = {}
        for name, cap in caps.items():
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))):
                raise InvalidRunFolder(f"{deps_dir / 'capacity.json'}: {name}: expected a "
                                       f"number (calls/s) or null, got {json.dumps(cap)[:60]}")
            deps[name] = DependencySeries.read(
                name, deps_dir / f"{name}.csv", deps_dir / f"{name}.latency.npz",
                math.nan if cap is None else float(cap),
            )
        return cls(meta, attempts, deps, faults, scenario)


def _json(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
