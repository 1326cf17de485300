"""Real fake services on loopback for bootstrap scripts under test.

Every fake is a real server in its own process on a free 127.0.0.1 port: an IMDSv2-faithful
metadata service, moto behind an AWS API gate, a Toxiproxy-compatible proxy, and registry and
telemetry sinks. `fakes.stack` starts and stops them as one.
"""

__all__: list[str] = []
