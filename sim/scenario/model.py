"""The Scenario: one YAML file that drives every engine."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.bootstrap import Bootstrap
from sim.scenario.dependencies import Dependency
from sim.scenario.execspec import ExecSpec
from sim.scenario.fakes import FakesSpec
from sim.scenario.faults import FaultSpec
from sim.scenario.fleet import Fleet
from sim.scenario.loadspec import LoadSpec
from sim.scenario.slos import SLO
from sim.units import PositiveDuration

__all__ = ["Scenario", "RunSettings"]

AWS_PROTOCOLS = ("json", "query")


class RunSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: int = Field(1, ge=0, strict=True, description="Fixes every random draw: same seed, same numbers.")
    horizon: PositiveDuration = Field(
        3600.0, description="Simulated time covered; boots still going then are `unfinished`."
    )
    engine: Literal["sim", "exec", "load"] = Field("sim", description="Default engine.")
    interval: PositiveDuration = Field(1.0, description="Resolution of the dependency time series.")


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="Short name, used in result folder names.")
    description: str = Field("", description="What this scenario is about.")
    run: RunSettings = Field(default_factory=RunSettings, description="Seed, horizon, engine.")
    fleet: Fleet = Field(description="How many instances launch, and when.")
    dependencies: dict[str, Dependency] = Field(
        min_length=1, description="Services the bootstrap calls, by name."
    )
    bootstrap: Bootstrap = Field(description="What each instance does at boot.")
    faults: list[FaultSpec] = Field(default_factory=list, description="Fault timeline.")
    slos: list[SLO] = Field(default_factory=list, description="Objectives the run is judged by.")
    fakes: FakesSpec = Field(
        default_factory=FakesSpec,
        description="What the real fakes hold (exec/load engines, `bootstorm fakes up`).",
    )
    exec: ExecSpec = Field(
        default_factory=ExecSpec,
        description="How the exec engine runs the real bootstrap script (ignored by the sim).",
    )
    load: LoadSpec = Field(
        default_factory=LoadSpec,
        description="How the load engine runs virtual instances on Locust (ignored by the sim).",
    )

    @model_validator(mode="after")
    def _references(self):
        problems: list[str] = []
        deps = self.dependencies
        for i, step in enumerate(self.bootstrap.steps):
            if step.call is None:
                continue
            dep_name, op = step.call.split(".")
            if dep_name not in deps:
                problems.append(
                    f"bootstrap.steps.{i}.call: dependency {dep_name!r} is not defined; "
                    f"defined: {', '.join(deps)}"
                )
            elif op not in deps[dep_name].operations:
                problems.append(
                    f"bootstrap.steps.{i}.call: {dep_name} has no operation {op!r}; "
                    f"it has: {', '.join(deps[dep_name].operations)}"
                )
        for need, what in (("imds_token", "an IMDSv2 token"), ("credentials", "role credentials")):
            users = [s.name for i, s in enumerate(self.bootstrap.steps) if self.needs_of(i) == need]
            if users and not any(s.provides == need for s in self.bootstrap.steps):
                problems.append(
                    f"bootstrap.steps: {', '.join(users)} need {what}, but no step has "
                    f"`provides: {need}`; add the step that fetches them, or set `needs: none`"
                )
        for i, fault in enumerate(self.faults):
            t = fault.target
            if fault.at >= self.run.horizon:
                problems.append(
                    f"faults.{i}.at: starts at {fault.at:g}s, after the run's horizon "
                    f"({self.run.horizon:g}s)"
                )
            if fault.kind == "expire_credentials":
                if t not in ("instances", "imds"):
                    problems.append(
                        f"faults.{i}.target: expire_credentials targets 'instances' (role "
                        f"credentials) or 'imds' (tokens), got {t!r}"
                    )
                if fault.for_ is not None:
                    problems.append(
                        f"faults.{i}.for: expire_credentials happens at one instant (what was "
                        f"issued before `at` expires); remove `for`"
                    )
                continue
            dep_name, _, op = t.partition(".")
            if dep_name not in deps:
                problems.append(
                    f"faults.{i}.target: expected a dependency ({', '.join(deps)}) or "
                    f"dependency.Operation, got {t!r}"
                )
            elif op and op not in deps[dep_name].operations:
                problems.append(f"faults.{i}.target: {dep_name} has no operation {op!r}")
            elif fault.kind == "throttle" and not op:
                problems.append(f"faults.{i}.target: throttle needs dependency.Operation, got {t!r}")
        for i, slo in enumerate(self.slos):
            parts = slo.metric.split(".")
            if parts[0] == "dependencies" and parts[1] not in deps:
                problems.append(f"slos.{i}: no dependency {parts[1]!r}; defined: {', '.join(deps)}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def needs_of(self, step_index: int) -> str:
        """The credential a step presents (its own `needs`, or the default for its target)."""
        step = self.bootstrap.steps[step_index]
        if step.needs is not None:
            return step.needs
        if step.call is None:
            return "none"
        dep_name, op = step.call.split(".")
        dep = self.dependencies.get(dep_name)
        if dep is None:  # reported elsewhere as an undefined dependency
            return "none"
        from sim.scenario.dependencies import default_protocol

        protocol = dep.protocol or default_protocol(dep_name)
        if protocol == "imds":
            return "none" if step.provides == "imds_token" else "imds_token"
        if protocol in AWS_PROTOCOLS and step.provides != "credentials":
            return "credentials"
        return "none"
