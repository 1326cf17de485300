"""The plugin's session-scoped ``bootstorm_fakes``: one real stack shared by a session's tests,
started on first use, gone when the session ends."""

import pytest

from _decide_helpers import cli_env

pytestmark = pytest.mark.integration


def test_bootstorm_fakes_is_one_real_stack_per_session(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", cli_env()["PYTHONPATH"])
    from importlib.metadata import entry_points

    installed = any(ep.value == "sim.pytest_plugin" for ep in entry_points(group="pytest11"))
    pytester.makepyfile(test_stack="""
        import json, sys, urllib.request

        SEEN = []

        def _token(stack):
            env = stack.add_instance("i-0f1e2d3c4b5a69788")   # what a bootstrap is given
            base = env["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
            req = urllib.request.Request(base + "latest/api/token",
                                         method="PUT",
                                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()

        def test_first(bootstorm_fakes):
            SEEN.append(bootstorm_fakes)
            status, token = _token(bootstorm_fakes)
            assert status == 200 and len(token) > 10
            assert all(u.startswith("http://127.0.0.1:") for u in bootstorm_fakes.endpoints().values())

        def test_second_gets_the_same_stack(bootstorm_fakes):
            assert SEEN == [bootstorm_fakes]
            print("ENDPOINT", bootstorm_fakes.endpoints()["imds"])
    """)
    result = pytester.runpytest_subprocess(
        *([] if installed else ["-p", "sim.pytest_plugin"]), "-p", "no:cacheprovider", "-q", "-s",
        timeout=300)
    result.assert_outcomes(passed=2)
    import re

    url = re.search(r"ENDPOINT (http://127\.0\.0\.1:\d+)", result.stdout.str()).group(1)
    # The session is over: the stack was stopped, nothing answers there any more.
    import urllib.error
    import urllib.request

    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(url + "/latest/api/token", timeout=5)


def test_bootstorm_run_on_the_exec_engine_runs_real_processes(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", cli_env()["PYTHONPATH"])
    from importlib.metadata import entry_points

    installed = any(ep.value == "sim.pytest_plugin" for ep in entry_points(group="pytest11"))
    # A two-instance scenario whose "bootstrap" is `true`: ready when it exits 0.
    pytester.makefile(".yaml", tiny="""
        name: tiny-exec
        run: {seed: 3, horizon: 60s}
        fleet: {size: 2, arrival: {kind: ramp, over: 1s}}
        dependencies:
          registry: {concurrency: 64, service_time: 10ms, operations: {Register: {}}}
        bootstrap:
          steps:
            - {name: register, call: registry.Register, mark: ready}
        exec: {command: "true", boot_timeout: 30, ready_when: exit_zero}
        slos:
          - bootstrap_success_rate >= 100%
    """)
    pytester.makepyfile(test_exec="""
        import pytest
        from sim.pytest_plugin import assert_slo

        @pytest.mark.bootstorm_scenario("tiny.yaml")
        def test_real_processes(bootstorm_run):
            outcome = bootstorm_run(engine="exec")
            assert outcome.engine == "exec" and outcome.summary.meta["engine"] == "exec"
            assert outcome.summary.outcomes.get("ready") == 2
            assert_slo(outcome)
    """)
    result = pytester.runpytest_subprocess(
        *([] if installed else ["-p", "sim.pytest_plugin"]), "-p", "no:cacheprovider", "-q",
        timeout=300)
    result.assert_outcomes(passed=1)
