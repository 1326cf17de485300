"""Registry and telemetry sinks: where bootstraps register and agents/apps report, so the
harness measures readiness and ``initial_metric_gap`` from outside the script under test."""

from fakes.sinks.client import SinkResponse, SinksClient, start_sinks

__all__ = ["SinksClient", "SinkResponse", "start_sinks"]
