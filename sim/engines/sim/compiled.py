"""A validated Scenario turned into the plain, fast structures the model runs on.

Pydantic models are for validation; the hot path reads slots and tuples.
"""

from __future__ import annotations

import math

from sim.distributions import mean_of, sampler
from sim.policies import RetryPolicy
from sim.scenario.bootstrap import topological_order
from sim.scenario.dependencies import THROTTLE_CODES, default_protocol
from sim.scenario.model import Scenario

__all__ = ["CompiledStep", "CompiledOp", "CompiledModel", "compile_scenario"]

NEEDS_NONE, NEEDS_TOKEN, NEEDS_CREDS = 0, 1, 2
_NEEDS = {"none": NEEDS_NONE, "imds_token": NEEDS_TOKEN, "credentials": NEEDS_CREDS}


class CompiledOp:
    """One dependency operation: where it lives and how it is served."""

    __slots__ = ("dep", "name", "key", "service", "quota", "bytes", "bandwidth", "cas",
                 "throttle_code")

    def __init__(self, dep: int, name: str, key: str, service, quota, nbytes, bandwidth, cas,
                 throttle_code):
        self.dep = dep
        self.name = name
        self.key = key  # "secretsmanager.GetSecretValue"
        self.service = service  # sampler or None (use the dependency's)
        self.quota = quota  # (rate, capacity) or None
        self.bytes = nbytes
        self.bandwidth = bandwidth
        self.cas = cas
        self.throttle_code = throttle_code


class CompiledStep:
    __slots__ = ("index", "name", "after", "children", "work", "op", "timeout", "policy",
                 "needs", "provides", "marks", "fail_p", "fail_code", "optional", "cache_hit",
                 "cache_time", "is_ready", "lazy_call")

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


class CompiledModel:
    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.dep_names = list(scenario.dependencies)
        self.ops: list[CompiledOp] = []
        op_index: dict[str, int] = {}
        for d, (dname, dep) in enumerate(scenario.dependencies.items()):
            protocol = dep.protocol or default_protocol(dname)
            for oname, op in dep.operations.items():
                quota = (op.quota.rate, op.quota.capacity) if op.quota else None
                op_index[f"{dname}.{oname}"] = len(self.ops)
                self.ops.append(CompiledOp(
                    d, oname, f"{dname}.{oname}",
                    sampler(op.service_time) if op.service_time is not None else None,
                    quota, op.bytes, op.bandwidth, op.conditional_write,
                    THROTTLE_CODES[protocol],
                ))
        self.op_index = op_index
        boot = scenario.bootstrap
        names = {s.name: i for i, s in enumerate(boot.steps)}
        steps = []
        policies: dict[str, RetryPolicy] = {}
        for i, s in enumerate(boot.steps):
            key = s.retry.model_dump_json()
            policy = policies.get(key)
            if policy is None:
                policy = policies[key] = RetryPolicy.from_spec(s.retry)
            timeout = s.timeout if s.timeout is not None else math.inf
            steps.append(CompiledStep(
                index=i,
                name=s.name,
                after=tuple(names[a] for a in s.after),
                children=(),
                work=sampler(s.work) if s.work is not None else None,
                op=op_index[s.call] if s.call is not None else -1,
                timeout=max(timeout, policy.min_attempt_timeout),
                policy=policy,
                needs=_NEEDS[scenario.needs_of(i)],
                provides=s.provides,
                marks=tuple(s.marks),
                fail_p=s.failure_probability,
                fail_code=s.failure_code,
                optional=s.optional,
                cache_hit=s.cache.hit_ratio if s.cache else 0.0,
                cache_time=sampler(s.cache.hit_time) if s.cache else None,
                is_ready="ready" in s.marks,
                lazy_call=_stateless(policy),
            ))
        for st in steps:
            st.children = tuple(c.index for c in steps if st.index in c.after)
        self.steps = steps
        self.step_names = [s.name for s in steps]
        self.order = topological_order(boot.steps)
        self.roots = tuple(s.index for s in steps if not s.after)
        self.predecessors = tuple(len(s.after) for s in steps)  # a boot's pending counts at start
        # Steps that mint credentials and tokens, reused for refreshes.
        self.token_step = next((s for s in steps if s.provides == "imds_token"), None)
        self.creds_step = next((s for s in steps if s.provides == "credentials"), None)
        cred = boot.credentials
        self.token_ttl = cred.token_ttl
        self.creds_lifetime = cred.lifetime
        self.refresh = cred.refresh
        self.advisory = cred.advisory_refresh
        self.mandatory = cred.mandatory_refresh
        self.boot_deadline = boot.deadline
        self.os_boot = sampler(scenario.fleet.os_boot)

    def capacity_rps(self, dep_index: int) -> float:
        """Modelled capacity: workers / mean service time (what the dependency can serve)."""
        dep = self.scenario.dependencies[self.dep_names[dep_index]]
        mean = mean_of(dep.service_time)
        return dep.concurrency / mean if mean > 0 else math.inf


def _stateless(p: RetryPolicy) -> bool:
    """No per-client state and no deadline: a call's first attempt can neither wait nor be
    refused, so the engine makes the policy's Call only if that attempt fails."""
    return not (p.quota or p.adaptive or p.budget or p.throttle or p.breaker) and p.deadline is None


def compile_scenario(scenario: Scenario) -> CompiledModel:
    return CompiledModel(scenario)
