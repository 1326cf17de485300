"""The bootstrap: what an instance does at boot, as a small DAG of steps.

A step is either local work (``work``: a duration distribution) or a call to a dependency
operation (``call: secretsmanager.GetSecretValue``) with a per-attempt ``timeout``, a
``retry`` policy and an optional ``deadline``. Steps start when every step named in ``after``
has finished, so independent steps run in parallel. ``marks`` name the moments the report
measures (``agent_started``, ``secret_fetched``, ``app_started``, ``config_validated``,
``ready``); the step marked ``ready`` ends the boot.

Credentials: a step that ``provides: imds_token`` or ``provides: credentials`` gives the
instance an IMDSv2 token (valid ``credentials.token_ttl``) or role credentials (valid
``credentials.lifetime``). A call step that ``needs`` one of them fails the way AWS fails
when it has expired (401 from IMDS, ExpiredTokenException from AWS APIs), unless the
bootstrap refreshes them first (``credentials.refresh``, botocore-style advisory and
mandatory refresh windows).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.distributions import DistributionSpec
from sim.policies.spec import NoRetrySpec, RetrySpec
from sim.results import MARKS
from sim.units import Duration, PositiveDuration

__all__ = ["Bootstrap", "StepSpec", "Credentials", "Mark", "Cache"]

Mark = Literal["agent_started", "secret_fetched", "app_started", "config_validated", "ready"]
assert set(Mark.__args__) == set(MARKS)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cache(_Model):
    """A local cache in front of a call (e.g. an AMI-baked artifact or a regional mirror)."""

    hit_ratio: float = Field(ge=0, le=1, description="Share of boots that find it cached.")
    hit_time: DistributionSpec = Field(0.0, description="Time a cache hit takes.")


def _step_schema(schema: dict) -> None:
    # `mark: ready` is shorthand for `marks: [ready]` (folded in by _mark_shorthand below): the
    # schema must accept it too, or editors flag every shipped scenario.
    marks = schema["properties"]["marks"]
    schema["properties"]["mark"] = {
        "anyOf": [marks["items"], marks],
        "description": "Shorthand: one mark (or a list), added to `marks`.",
    }


class StepSpec(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_step_schema)

    name: str = Field(description="Unique step name (letters, digits, _ and -).")
    after: list[str] = Field(default_factory=list, description="Steps that must finish first.")
    work: DistributionSpec | None = Field(None, description="Local work: how long it takes.")
    call: str | None = Field(None, description="Dependency operation called: `dependency.Operation`.")
    timeout: PositiveDuration | None = Field(
        60.0,
        description="Per-attempt timeout of a call (botocore's read timeout is 60s); null "
        "means no timeout: the call hangs as long as the dependency does.",
    )
    retry: RetrySpec = Field(
        default_factory=lambda: NoRetrySpec(kind="none"), description="Retry policy for the call."
    )
    needs: Literal["none", "imds_token", "credentials"] | None = Field(
        None,
        description="Credential the call must present. Default: imds_token for imds calls "
        "other than PutToken, credentials for AWS services (json/query protocols), none else.",
    )
    provides: Literal["imds_token", "credentials"] | None = Field(
        None, description="What a successful call gives the instance."
    )
    marks: list[Mark] = Field(default_factory=list, description="Moments this step's end marks.")
    failure_probability: float = Field(
        0.0, ge=0, le=1, description="Chance local work fails (e.g. config validation)."
    )
    failure_code: str = Field(
        "ConfigValidationFailed", description="Error class recorded when local work fails."
    )
    optional: bool = Field(False, description="A failure of this step does not fail the boot.")
    cache: Cache | None = Field(None, description="Local cache in front of the call.")

    @model_validator(mode="before")
    @classmethod
    def _mark_shorthand(cls, data):
        if isinstance(data, dict) and "mark" in data:
            data = dict(data)
            mark = data.pop("mark")
            marks = data.get("marks", [])
            if not isinstance(marks, list):
                return data  # `marks` itself is wrong; its own validation says so
            # A string is one mark, a list is several; anything else goes through as it is,
            # so validation names it ("expected a list of marks, got 5").
            extra = [mark] if isinstance(mark, str) else mark if isinstance(mark, list) else None
            data["marks"] = marks + extra if extra is not None else mark
        return data

    @model_validator(mode="after")
    def _one_kind(self):
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"step name {self.name!r} must be letters, digits, _ or -")
        if (self.work is None) == (self.call is None):
            raise ValueError("a step has exactly one of `work` (local work) or `call` (dependency.Operation)")
        if self.call is not None and self.call.count(".") != 1:
            raise ValueError(f"call must be `dependency.Operation`, got {self.call!r}")
        if self.work is not None and (self.provides or self.cache):
            raise ValueError("`provides` and `cache` belong to call steps, not local work")
        if self.call is not None and self.failure_probability:
            raise ValueError(
                "failure_probability belongs to local work; a call fails through its "
                "dependency (faults, quotas, timeouts)"
            )
        if self.provides and self.cache:
            raise ValueError("a step that `provides` credentials cannot be served from a cache")
        return self


class Credentials(_Model):
    token_ttl: PositiveDuration = Field(
        21600.0, description="IMDSv2 token TTL the bootstrap asks for (1s..6h)."
    )
    lifetime: PositiveDuration = Field(
        21600.0, description="Lifetime of role credentials from IMDS."
    )
    refresh: bool = Field(
        True,
        description="Refresh credentials (and re-fetch an expired token) before a call that "
        "needs them, like botocore; false: use what was fetched at the start.",
    )
    advisory_refresh: Duration = Field(
        900.0, description="Try to refresh when credentials expire within this (botocore: 15m)."
    )
    mandatory_refresh: Duration = Field(
        600.0, description="Must refresh when they expire within this (botocore: 10m)."
    )

    @model_validator(mode="after")
    def _windows(self):
        if self.token_ttl > 21600:
            raise ValueError(f"token_ttl must be at most 6h (21600s), got {self.token_ttl:g}s")
        if self.mandatory_refresh > self.advisory_refresh:
            raise ValueError("mandatory_refresh must be <= advisory_refresh")
        if self.refresh and self.lifetime <= self.advisory_refresh:
            raise ValueError(
                f"lifetime ({self.lifetime:g}s) must be longer than advisory_refresh "
                f"({self.advisory_refresh:g}s), or every call would refresh first"
            )
        return self


class Bootstrap(_Model):
    steps: list[StepSpec] = Field(min_length=1, description="The steps, in any order.")
    credentials: Credentials = Field(default_factory=Credentials, description="Token and credential lifetimes.")
    deadline: PositiveDuration | None = Field(
        None, description="The whole bootstrap gives up after this long (script-level timeout)."
    )
    command: str | None = Field(
        None, description="The real script the exec engine runs (ignored by the sim engine)."
    )

    @model_validator(mode="after")
    def _dag(self):
        names = [s.name for s in self.steps]
        seen: set[str] = set()
        for i, n in enumerate(names):
            if n in seen:
                raise ValueError(f"steps.{i}.name: duplicate step name {n!r}")
            seen.add(n)
        for i, s in enumerate(self.steps):
            for dep in s.after:
                if dep not in seen:
                    raise ValueError(f"steps.{i}.after: unknown step {dep!r}; steps are {', '.join(names)}")
                if dep == s.name:
                    raise ValueError(f"steps.{i}.after: step {s.name!r} cannot wait for itself")
        order = topological_order(self.steps)
        if order is None:
            cycle = find_cycle(self.steps)
            names = " -> ".join(self.steps[i].name for i in cycle + cycle[:1])
            raise ValueError(
                f"steps.{cycle[0]}.after: steps wait for each other in a cycle, {names} (each "
                "waits for the next), so none of them can start; expected `after` to form a DAG "
                "(remove one of these waits)"
            )
        ready = [s.name for s in self.steps if "ready" in s.marks]
        if len(ready) != 1:
            raise ValueError(
                f"exactly one step must carry the `ready` mark, found {len(ready)}"
                + (f" ({', '.join(ready)})" if ready else "")
            )
        for mark in ("agent_started", "secret_fetched", "app_started", "config_validated"):
            holders = [s.name for s in self.steps if mark in s.marks]
            if len(holders) > 1:
                raise ValueError(f"mark {mark!r} is on more than one step: {', '.join(holders)}")
        return self


def find_cycle(steps: list[StepSpec]) -> list[int]:
    """Indexes of steps that wait for each other in a cycle (a waits for b ... waits for a),
    starting from the earliest step in the file; empty when `after` has no cycle."""
    index = {s.name: i for i, s in enumerate(steps)}
    waits = {i: [index[a] for a in s.after if a in index] for i, s in enumerate(steps)}
    done: set[int] = set()
    for start in range(len(steps)):
        path: list[int] = []
        on_path: dict[int, int] = {}
        stack = [(start, iter(waits[start]))]
        if start in done:
            continue
        path.append(start)
        on_path[start] = 0
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                done.add(path.pop())
                on_path.pop(node)
                continue
            if child in on_path:
                cycle = path[on_path[child]:]
                first = cycle.index(min(cycle))  # start where the file first mentions it
                return cycle[first:] + cycle[:first]
            if child not in done:
                on_path[child] = len(path)
                path.append(child)
                stack.append((child, iter(waits[child])))
    return []


def topological_order(steps: list[StepSpec]) -> list[int] | None:
    """Step indexes in an order where every step comes after its `after`; None on a cycle."""
    index = {s.name: i for i, s in enumerate(steps)}
    pending = {i: {index[a] for a in s.after if a in index} for i, s in enumerate(steps)}
    order: list[int] = []
    while pending:
        free = sorted(i for i, deps in pending.items() if not deps)
        if not free:
            return None
        for i in free:
            order.append(i)
            del pending[i]
        for deps in pending.values():
            deps.difference_update(free)
    return order
