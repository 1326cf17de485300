"""The exec engine's quotas, with real scripts against the real fakes.

A scenario's ``quota: {rate, burst}`` must throttle a user's real script exactly as the
scenario says, per scenario second (``exec.time_scale``), with the error AWS sends for the
protocol, which botocore then retries as a throttle: its standard retry mode retries a 400 only
for the codes in ``botocore/retries/standard.py`` ``ThrottledRetryableChecker._THROTTLED_ERROR_CODES``
(``Throttling``, ``ThrottlingException``, ...).
"""

from __future__ import annotations

import json

import pytest

from sim.engines.exec import run
from sim.metrics import summarize

from tests.integration._exec_fixtures import GET_PARAMETERS, scenario, script

SSM_QUOTA = {"ssm": {"concurrency": 100, "service_time": "5ms",
                     "operations": {"GetParameter": {"quota": {"rate": 1, "burst": 1}}}}}


def test_a_scenario_quota_throttles_a_real_script_per_scenario_second(fake_stack_session, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # 1 GetParameter per scenario second, burst 1; at time_scale 0.5 that is 2 per wall second.
    s = scenario(script(tmp_path, "params", GET_PARAMETERS), size=4, horizon="240s",
                 dependencies_extra=SSM_QUOTA,
                 exec_extra={"time_scale": 0.5, "boot_timeout": 90, "env": {"OUT": str(out), "CALLS": "3"}})
    result = run(s, stack=fake_stack_session)
    assert list(result.attempts.outcome) == ["ready"] * 4

    # The gate holds the scenario's quota on the wall clock: rate / time_scale, the burst as given.
    [rule] = [r for r in fake_stack_session.gate.rules() if r["kind"] == "quota"]
    assert (rule["service"], rule["operation"], rule["rate"], rule["burst"]) == ("ssm", "GetParameter", 2.0, 1.0)

    # Each script asks three times back to back (milliseconds apart, well under the 0.5 s a
    # token takes): throttles are certain, and appear in the Run's dependency series.
    ssm = result.dependencies["ssm"].counts
    throttled = int(ssm["throttled"].sum())
    assert throttled > 0 and ssm["served"].sum() == 12 and ssm["failed"].sum() == 0
    assert ssm["offered"].sum() == 12 + throttled
    # botocore retried every throttle (RetryAttempts per call, as the scripts saw them) ...
    seen = [n for path in out.iterdir() for n in json.loads(path.read_text())]
    assert len(seen) == 12 and sum(seen) == throttled
    # ... and the attempts count those retries, on the operation's step.
    t = result.attempts
    assert int(t.column("retries").sum()) == throttled
    step = t.steps.index("ssm.GetParameter")
    assert int(t.step_retries()[:, step].sum()) == throttled

    # Served no faster than the wall-clock bucket allows: burst + rate x span (+ stamp jitter).
    log = fake_stack_session.request_log(0.0)
    served = sorted(e["time"] for e in log if e["service"] == "ssm" and e["status"] == 200)
    assert len(served) == 12
    assert len(served) <= 1 + 2.0 * (served[-1] - served[0] + 0.05)
    summary = summarize(result)
    assert summary.metrics["dependencies.ssm.throttled_share"] == pytest.approx(throttled / (12 + throttled))

