"""The fakes stack a real-time run uses: started for it, or given and reset, with the
scenario's quotas on the AWS API gate.

Each AWS operation with a ``quota: {rate, burst}`` becomes a gate ``quota`` rule: a token bucket
that starts full and answers an empty one with the throttling error AWS sends for that
protocol (``ThrottlingException`` for JSON services, ``Throttling`` for query ones, HTTP 400;
botocore and the AWS CLI read both as throttles and retry them). The rate is per scenario
second (`ScaledClock.rate`); the burst is a count of calls and is not scaled.

`fault_windows` turns what the run's fault timeline applied into the Run's fault windows.
"""

from __future__ import annotations

from sim.engines.live.plan import ScaledClock
from sim.results import FaultWindow
from sim.scenario.model import Scenario

__all__ = ["open_stack", "set_quotas", "fault_windows"]


def open_stack(scenario: Scenario, given=None, clock: ScaledClock = ScaledClock()):
    """``given`` reset, or a new ``fakes.stack.Stack`` started; either way with the scenario's
    quotas set. The caller stops a stack it did not give (``given is None``)."""
    from fakes.stack import Stack

    if given is None:
        stack = Stack(scenario).start()
    else:
        stack = given
        stack.reset()
    try:
        set_quotas(stack, scenario, clock)
    except BaseException:
        if given is None:  # the caller never gets it, so cannot stop it
            stack.stop()
        raise
    return stack


def set_quotas(stack, scenario: Scenario, clock: ScaledClock = ScaledClock()) -> list[str]:
    """A gate quota rule per AWS operation the scenario gives a quota; the rule ids."""
    from fakes.stack import DEPENDENCY_FAKES

    rules = []
    for name, dep in scenario.dependencies.items():
        if DEPENDENCY_FAKES.get(name) != "gate":
            continue  # IMDS and the sinks have no per-operation quota (a throttle fault can limit IMDS)
        for op_name, op in dep.operations.items():
            if op.quota is not None:
                rules.append(stack.gate.set_quota(name, clock.rate(op.quota.rate), op.quota.capacity,
                                                  operation=op_name))
    return rules


def fault_windows(records: list[dict], end: float) -> list[FaultWindow]:
    """The Run's fault windows from a ``fakes.stack.FaultTimeline``'s records: each fault that
    was applied, lasting to its lift or to the run's ``end``; errors and notes as parameters."""
    return [FaultWindow(r["kind"], r["target"], r["applied_at"],
                        end if r["lifted_at"] is None else min(r["lifted_at"], end),
                        {"error": r["error"], "notes": r["notes"]} if r["error"] or r["notes"] else {})
            for r in records if r["applied_at"] is not None]
