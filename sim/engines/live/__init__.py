"""What the exec and load engines share: both run a scenario for real, on the wall clock,
against the fakes stack.

Modules: ``plan`` (the scenario's clock compressed by ``time_scale``: launch times, faults,
horizon, grace, quota rates; instance ids), ``stack`` (a started or reset fakes stack with the
scenario's quotas on the AWS API gate), ``series`` (per-dependency series made on first sight,
peak calls in flight). The ``sim`` engine needs none of it. Importing this package starts
nothing and imports neither the fakes nor Locust.
"""

from sim.engines.live.plan import ScaledClock, instance_id, launch_times

__all__ = ["ScaledClock", "instance_id", "launch_times"]
