"""Bad scenarios of every kind: each problem names the file, the line, the dotted field path,
what was expected and what was given. Messages are asserted as the CLI prints them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _scenario_fixtures import (
    BASE_YAML,
    base,
    dump,
    line_of,
    load_text,
    messages,
    problems_of,
    problems_of_text,
)
from sim.errors import InvalidScenario


def _steps(d):
    return d["bootstrap"]["steps"]


def _set(*keys_and_value):
    """A mutation that sets d[k1][k2]...[kn] = value."""
    *keys, value = keys_and_value

    def mutate(d):
        cur = d
        for k in keys[:-1]:
            cur = cur[k]
        cur[keys[-1]] = value

    return mutate


def _drop(*keys):
    def mutate(d):
        cur = d
        for k in keys[:-1]:
            cur = cur[k]
        del cur[keys[-1]]

    return mutate


def _append(*keys_and_item):
    *keys, item = keys_and_item

    def mutate(d):
        cur = d
        for k in keys:
            cur = cur[k]
        cur.append(item)

    return mutate


# (id, mutation, dotted path, fragments of the message, text on the line the problem points at)
CASES = [
    # missing required fields: the problem points at the top of the file
    ("missing-name", _drop("name"), "name", ["required field is missing"], None),
    ("missing-fleet", _drop("fleet"), "fleet", ["required field is missing"], None),
    ("missing-dependencies", _drop("dependencies"), "dependencies", ["required field is missing"], None),
    ("missing-bootstrap", _drop("bootstrap"), "bootstrap", ["required field is missing"], None),
    ("missing-fleet-size", _drop("fleet", "size"), "fleet.size", ["required field is missing"], "fleet:"),
    ("missing-step-name", _drop("bootstrap", "steps", 3, "name"), "bootstrap.steps.3.name",
     ["required field is missing"], "work:"),
    # unknown fields, at several depths, with the closest allowed name
    ("unknown-top", _set("fleeet", 1), "fleeet",
     ["unknown field 'fleeet'", "did you mean 'fleet'?", "expected one of: bootstrap, dependencies"],
     "fleeet:"),
    ("unknown-run", _set("run", "sed", 1), "run.sed",
     ["unknown field 'sed'", "did you mean 'seed'?", "horizon"], "sed:"),
    ("unknown-fleet", _set("fleet", "sise", 3), "fleet.sise",
     ["unknown field 'sise'", "did you mean 'size'?", "arrival"], "sise:"),
    ("unknown-arrival", _set("fleet", "arrival", "ovr", "1m"), "fleet.arrival.ovr",
     ["unknown field 'ovr'", "did you mean 'over'?", "expected one of: kind, over, rate, start"], "ovr:"),
    ("network-unknown-way", _set("dependencies", "imds", "network", {"there": "2ms"}),
     "dependencies.imds.network.there", ["unknown field 'there'"], "there:"),
    ("network-bad-duration", _set("dependencies", "imds", "network", "fast"),
     "dependencies.imds.network", ["expected a duration like 250ms", "got 'fast'"], "network:"),
    ("unknown-dependency-field", _set("dependencies", "imds", "concurency", 3),
     "dependencies.imds.concurency", ["did you mean 'concurrency'?"], "concurency:"),
    ("unknown-quota-field",
     _set("dependencies", "secretsmanager", "operations", "GetSecretValue", "quota", "brust", 1),
     "dependencies.secretsmanager.operations.GetSecretValue.quota.brust",
     ["unknown field 'brust'", "did you mean 'burst'?", "expected one of: burst, rate"], "brust:"),
    ("unknown-step-field", _set("bootstrap", "steps", 1, "retyr", {}), "bootstrap.steps.1.retyr",
     ["unknown field 'retyr'", "did you mean 'retry'?"], "retyr:"),
    ("unknown-retry-field", _set("bootstrap", "steps", 1, "retry", "delya", "2s"),
     "bootstrap.steps.1.retry.delya", ["did you mean 'delay'?", "max_attempts"], "delya:"),
    # the fault's kind is also the name of one of its fields: the path must not confuse them
    ("unknown-fault-field", _set("faults", 0, "latncy", "1s"), "faults.0.latncy",
     ["unknown field 'latncy'", "did you mean 'latency'?", "expected one of: at, for, kind"],
     "latncy:"),
    ("unknown-credentials-field", _set("bootstrap", "credentials", {"token_tll": "1h"}),
     "bootstrap.credentials.token_tll", ["did you mean 'token_ttl'?"], "token_tll:"),
    # wrong types
    ("size-not-int", _set("fleet", "size", "many"), "fleet.size",
     ["expected an integer", "got 'many'"], "size:"),
    ("size-fraction", _set("fleet", "size", 1.5), "fleet.size", ["expected an integer; got 1.5"], "size:"),
    ("size-zero", _set("fleet", "size", 0), "fleet.size", ["expected a value >= 1", "got 0"], "size:"),
    ("name-not-text", _set("name", 5), "name", ["expected a string", "got 5"], "name:"),
    ("steps-not-list", _set("bootstrap", "steps", "x"), "bootstrap.steps",
     ["expected a list", "got 'x'"], "steps:"),
    ("dependencies-list", _set("dependencies", [1]), "dependencies",
     ["expected a mapping", "got [1]"], "dependencies:"),
    ("dependencies-empty", _set("dependencies", {}), "dependencies",
     ["expected at least 1 item", "got 0"], "dependencies:"),
    ("fleet-null", _set("fleet", None), "fleet", ["expected a mapping", "got null"], "fleet:"),
    ("after-not-list", _set("bootstrap", "steps", 1, "after", "token"), "bootstrap.steps.1.after",
     ["expected a list", "got 'token'"], "after:"),
    ("unknown-mark", _set("bootstrap", "steps", 3, "marks", ["app_started", "redy"]),
     "bootstrap.steps.3.marks.1", ["'ready'", "got 'redy'"], "- redy"),
    ("numeric-dependency-name", _set("dependencies", 123, {"operations": {"Get": {}}}),
     "dependencies.123", ["expected a name (text)", "got 123", "quote it"], "123:"),
    ("slo-value-list", _append("slos", {"metric": "time_to_ready.p95", "op": "<=", "value": [1]}),
     "slos.2.value", ["expected a string or a boolean or a number", "got [1]"], "value:"),
    # durations
    ("duration-fortnight", _set("run", "horizon", "1 fortnight"), "run.horizon",
     ["expected a duration like 250ms, 30s, 2m or 1h30m", "got '1 fortnight'"], "horizon:"),
    ("duration-negative-text", _set("bootstrap", "steps", 0, "timeout", "-1s"),
     "bootstrap.steps.0.timeout", ["expected a duration", "got '-1s'"], "timeout:"),
    ("duration-negative-number", _set("run", "horizon", -5), "run.horizon",
     ["expected a duration >= 0", "got -5"], "horizon:"),
    ("duration-zero-positive", _set("run", "horizon", 0), "run.horizon",
     ["expected a duration > 0", "got 0"], "horizon:"),
    ("duration-fault-for", _set("faults", 0, "for", "-3s"), "faults.0.for",
     ["expected a duration", "got '-3s'"], "for:"),
    ("duration-bool", _set("bootstrap", "deadline", True), "bootstrap.deadline",
     ["expected a duration", "got True"], "deadline:"),
    ("plain-duration-as-distribution", _set("dependencies", "imds", "service_time", "2 parsecs"),
     "dependencies.imds.service_time", ["expected a duration", "got '2 parsecs'"], "service_time:"),
    # distributions
    ("distribution-unknown-kind", _set("fleet", "os_boot", {"kind": "gamma", "mean": 1}),
     "fleet.os_boot", ["kind 'gamma' is not one of", "'uniform'", "'lognormal'", "'empirical'"],
     "os_boot:"),
    ("distribution-no-kind", _set("fleet", "os_boot", {"median": "1s"}), "fleet.os_boot",
     ["needs a `kind` field"], "os_boot:"),
    ("lognormal-median-without-p99", _set("fleet", "os_boot", {"kind": "lognormal", "median": "20s"}),
     "fleet.os_boot.median", ["median and p99 go together"], "median:"),
    ("lognormal-both-forms",
     _set("fleet", "os_boot", {"kind": "lognormal", "median": "1s", "p99": "2s", "mu": 0, "sigma": 1}),
     "fleet.os_boot", ["give either median and p99, or mu and sigma"], "os_boot:"),
    ("lognormal-p99-below-median",
     _set("fleet", "os_boot", {"kind": "lognormal", "median": "20s", "p99": "10s"}),
     "fleet.os_boot.p99", ["p99 (10.0s) must be >= median (20.0s)"], "p99:"),
    ("uniform-high-below-low", _set("bootstrap", "steps", 3, "work", {"kind": "uniform", "low": "3s", "high": "1s"}),
     "bootstrap.steps.3.work.high", ["high (1.0s) must be >= low (3.0s)"], "high:"),
    ("empirical-empty", _set("bootstrap", "steps", 3, "work", {"kind": "empirical", "samples": []}),
     "bootstrap.steps.3.work.samples", ["expected at least 1 item", "got 0"], "samples:"),
    # arrival shapes
    ("arrival-unknown-kind", _set("fleet", "arrival", {"kind": "storm"}), "fleet.arrival",
     ["kind 'storm' is not one of", "'burst'", "'ramp'", "'poisson'", "'steps'", "'autoscaling'"],
     "arrival:"),
    ("steps-do-not-add-up",
     _set("fleet", "arrival", {"kind": "steps", "steps": [{"at": 0, "count": 10}, {"at": "10s", "count": 20}]}),
     "fleet.arrival.steps", ["add up to 30", "expected fleet.size = 50"], "steps:"),
    ("steps-unsorted",
     _set("fleet", "arrival", {"kind": "steps", "steps": [{"at": "10s", "count": 25}, {"at": 0, "count": 25}]}),
     "fleet.arrival.steps", ["time order"], "steps:"),
    ("steps-count-not-int",
     _set("fleet", "arrival", {"kind": "steps", "steps": [{"at": 0, "count": "all"}]}),
     "fleet.arrival.steps.0.count", ["expected an integer", "got 'all'"], "count:"),
    ("ramp-without-over", _set("fleet", "arrival", {"kind": "ramp"}), "fleet.arrival",
     ["exactly one of `over`", "or `rate`", "got neither"], "arrival:"),
    ("rate-timeline-unsorted",
     _set("fleet", "arrival", {"kind": "poisson", "rate": [{"at": "60s", "rate": 5},
                                                           {"at": "30s", "rate": 9}]}),
     "fleet.arrival.rate", ["point 1", "after the point before (60s)", "got 30s"], "rate:"),
    ("rate-timeline-ends-at-zero",
     _set("fleet", "arrival", {"kind": "poisson", "rate": [{"at": 0, "rate": 5},
                                                           {"at": "30s", "rate": 0}]}),
     "fleet.arrival.rate", ["last point's rate > 0", "never finish launching", "got 0"], "rate:"),
    ("poisson-rate-zero", _set("fleet", "arrival", {"kind": "poisson", "rate": 0}),
     "fleet.arrival.rate", ["expected a value > 0", "got 0"], "rate:"),
    # retry specs
    ("retry-unknown-kind", _set("bootstrap", "steps", 1, "retry", {"kind": "forever"}),
     "bootstrap.steps.1.retry", ["kind 'forever' is not one of", "'fixed'", "'full_jitter'", "'aws_standard'"],
     "retry:"),
    ("retry-field-of-another-kind", _set("bootstrap", "steps", 1, "retry", {"kind": "fixed", "base": "1s"}),
     "bootstrap.steps.1.retry.base", ["unknown field 'base'", "expected one of:", "delay"], "base:"),
    ("retry-max-attempts-zero", _set("bootstrap", "steps", 1, "retry", "max_attempts", 0),
     "bootstrap.steps.1.retry.max_attempts", ["expected a value >= 1", "got 0"], "max_attempts:"),
    ("retry-unlimited-without-deadline",
     _set("bootstrap", "steps", 1, "retry", {"kind": "fixed", "max_attempts": "unlimited"}),
     "bootstrap.steps.1.retry.max_attempts", ["unlimited needs a deadline", "got no deadline"],
     "max_attempts:"),
    ("retry-max-attempts-word", _set("bootstrap", "steps", 1, "retry", "max_attempts", "many"),
     "bootstrap.steps.1.retry.max_attempts", ["'unlimited'", "got 'many'"], "max_attempts:"),
    ("retry-breaker-window",
     _set("bootstrap", "steps", 2, "retry", "circuit_breaker", {"min_calls": 50, "window": 20}),
     "bootstrap.steps.2.retry.circuit_breaker", ["expected min_calls <= window", "min_calls=50"],
     "circuit_breaker:"),
    # retry guards: the budget and gRPC retry throttling share one initial-fill check
    ("retry-budget-initial-above-max",
     _set("bootstrap", "steps", 1, "retry", "budget", {"max_tokens": 5, "initial_tokens": 9}),
     "bootstrap.steps.1.retry.budget", ["expected initial_tokens between 0 and max_tokens (5) or `full`",
                                        "got 9.0"], "budget:"),
    ("retry-throttling-initial-negative",
     _set("bootstrap", "steps", 1, "retry", "retry_throttling", {"max_tokens": 5, "initial_tokens": -1}),
     "bootstrap.steps.1.retry.retry_throttling",
     ["expected initial_tokens between 0 and max_tokens (5) or `full`", "got -1.0"], "retry_throttling:"),
    ("retry-budget-initial-word",
     _set("bootstrap", "steps", 1, "retry", "budget", {"initial_tokens": "half"}),
     "bootstrap.steps.1.retry.budget.initial_tokens", ["'full'", "got 'half'"], "initial_tokens:"),
    # the bootstrap DAG
    ("after-unknown-step", _set("bootstrap", "steps", 1, "after", ["tokn"]), "bootstrap.steps.1.after",
     ["unknown step 'tokn'", "steps are token, creds, secret, start_app"], "after:"),
    ("after-itself", _set("bootstrap", "steps", 3, "after", ["start_app"]), "bootstrap.steps.3.after",
     ["cannot wait for itself"], "after:"),
    ("after-cycle", _set("bootstrap", "steps", 0, "after", ["start_app"]),
     "bootstrap.steps.0.after",
     ["cycle, token -> start_app -> secret -> creds -> token (each waits for the next)", "DAG"],
     "after:"),
    ("after-two-step-cycle", _set("bootstrap", "steps", 1, "after", ["token", "secret"]),
     "bootstrap.steps.1.after", ["cycle, creds -> secret -> creds ", "DAG"], "after:"),
    ("duplicate-step-names", _set("bootstrap", "steps", 1, "name", "token"), "bootstrap.steps.1.name",
     ["duplicate step name 'token'"], "name: token"),
    ("no-ready-mark", _set("bootstrap", "steps", 3, "marks", ["app_started"]), "bootstrap",
     ["exactly one step must carry the `ready` mark, found 0"], "bootstrap:"),
    ("two-ready-marks", _set("bootstrap", "steps", 2, "marks", ["ready"]), "bootstrap",
     ["exactly one step must carry the `ready` mark, found 2 (secret, start_app)"], "bootstrap:"),
    ("bad-step-name", _set("bootstrap", "steps", 3, "name", "start app"), "bootstrap.steps.3",
     ["step name 'start app' must be letters, digits, _ or -"], None),
    # calls
    ("call-undefined-dependency", _set("bootstrap", "steps", 2, "call", "secrets.GetSecretValue"),
     "bootstrap.steps.2.call", ["dependency 'secrets' is not defined", "defined: imds, secretsmanager"],
     "call:"),
    ("call-undefined-operation", _set("bootstrap", "steps", 2, "call", "secretsmanager.GetSecret"),
     "bootstrap.steps.2.call", ["secretsmanager has no operation 'GetSecret'", "it has: GetSecretValue"],
     "call:"),
    ("call-without-operation", _set("bootstrap", "steps", 2, "call", "secretsmanager"),
     "bootstrap.steps.2.call", ["call must be `dependency.Operation`", "got 'secretsmanager'"], "call:"),
    ("work-and-call", _set("bootstrap", "steps", 2, "work", "1s"), "bootstrap.steps.2",
     ["exactly one of `work`", "`call`"], None),
    ("neither-work-nor-call", _drop("bootstrap", "steps", 3, "work"), "bootstrap.steps.3",
     ["exactly one of `work`", "`call`"], None),
    # faults
    ("fault-unknown-target", _set("faults", 0, "target", "vault"), "faults.0.target",
     ["expected a dependency (imds, secretsmanager) or dependency.Operation", "got 'vault'"], "target:"),
    ("fault-unknown-operation", _set("faults", 0, "target", "secretsmanager.PutSecret"),
     "faults.0.target", ["secretsmanager has no operation 'PutSecret'"], "target:"),
    ("throttle-without-operation",
     _append("faults", {"at": "1m", "target": "secretsmanager", "kind": "throttle", "quota": {"rate": 1}}),
     "faults.1.target", ["throttle needs dependency.Operation", "got 'secretsmanager'"], "target:"),
    ("expire-credentials-wrong-target",
     _append("faults", {"at": "1m", "target": "secretsmanager", "kind": "expire_credentials"}),
     "faults.1.target", ["expire_credentials targets 'instances'", "'imds'", "got 'secretsmanager'"],
     "target:"),
    ("fault-after-horizon", _set("faults", 0, "at", "20m"), "faults.0.at",
     ["starts at 1200s", "after the run's horizon (600s)"], "at:"),
    ("fault-unknown-kind", _set("faults", 0, "kind", "meteor"), "faults.0",
     ["kind 'meteor' is not one of", "'partition'", "'expire_credentials'"], None),
    ("fault-error-rate-above-one",
     _append("faults", {"at": "1m", "target": "imds", "kind": "error_rate", "rate": 2}),
     "faults.1.rate", ["expected a value <= 1", "got 2"], "rate:"),
    ("fault-missing-target", _drop("faults", 0, "target"), "faults.0.target",
     ["required field is missing"], None),
    # SLOs
    ("slo-unknown-metric", _append("slos", "time_to_steady.p95 <= 1m"), "slos.2",
     ["unknown metric 'time_to_steady.p95'", "dependencies.<name>."], "time_to_steady"),
    ("slo-bad-duration", _append("slos", "time_to_ready.p95 <= 5 fortnights"), "slos.2",
     ["time_to_ready.p95", "expected a duration", "got '5 fortnights'"], "fortnights"),
    ("slo-share-above-100", _append("slos", "bootstrap_success_rate >= 150"), "slos.2",
     ["percentage like 99.9%", "got '150'"], "bootstrap_success_rate >= 150"),
    ("slo-percent-above-100", _append("slos", "bootstrap_success_rate >= 999%"), "slos.2",
     ["expected a percentage from 0% to 100%", "got '999%'"], "999%"),
    ("slo-negative-percent", _append("slos", {"metric": "dependencies.imds.throttled_share",
                                              "op": "<=", "value": "-5%"}), "slos.2",
     ["expected a percentage from 0% to 100%", "got '-5%'"], "metric: dependencies.imds"),
    ("slo-bad-percent", _append("slos", "bootstrap_success_rate >= lots%"), "slos.2",
     ["expected a percentage like 99.9%", "got 'lots%'"], "lots%"),
    ("slo-not-metric-op-value", _append("slos", "ready fast please"), "slos.2",
     ["expected 'METRIC OP VALUE'", "got 'ready fast please'"], "ready fast please"),
    ("slo-unknown-dependency", _append("slos", "dependencies.vault.throttled_share <= 5%"), "slos.2",
     ["no dependency 'vault'", "defined: imds, secretsmanager"], "vault"),
    ("slo-bad-op", _append("slos", {"metric": "time_to_ready.p95", "op": "=<", "value": "1m"}),
     "slos.2.op", ["expected '<='", "got '=<'"], "op:"),
    ("slo-engine-typo-in-text", _append("slos", "secret_exposure_events <= 0 on exce"), "slos.2",
     ["unknown engine 'exce'", "did you mean 'exec'?", "expected one of: sim, exec, load"],
     "on exce"),
    ("slo-engine-typo-in-mapping",
     _append("slos", {"metric": "secret_exposure_events", "op": "<=", "value": 0,
                      "engines": ["exec", "laod"]}),
     "slos.2.engines", ["unknown engine 'laod'", "did you mean 'load'?",
                        "expected one of: sim, exec, load"], "engines:"),
    ("slo-engines-split-by-a-flow-list", _append("slos", "load"), "slos.2",
     ["got 'load'", "needs quotes"], "load"),
    ("slo-engines-empty",
     _append("slos", {"metric": "secret_exposure_events", "op": "<=", "value": 0, "engines": []}),
     "slos.2.engines", ["expected a list of engines from sim, exec, load", "got []"], "engines:"),
    ("slo-engines-unknown-field",
     _append("slos", {"metric": "secret_exposure_events", "op": "<=", "value": 0,
                      "engine": ["exec"]}),
     "slos.2.engine", ["unknown field 'engine'", "did you mean 'engines'?"], "engine:"),
    # credentials
    ("token-ttl-over-6h", _set("bootstrap", "credentials", {"token_ttl": "7h"}),
     "bootstrap.credentials.token_ttl", ["at most 6h (21600s)", "got 25200s"], "token_ttl:"),
    ("refresh-windows", _set("bootstrap", "credentials", {"advisory_refresh": "1m", "mandatory_refresh": "5m"}),
     "bootstrap.credentials.mandatory_refresh", ["mandatory_refresh must be <= advisory_refresh"],
     "mandatory_refresh:"),
    # run settings
    ("unknown-engine", _set("run", "engine", "docker"), "run.engine",
     ["expected 'sim', 'exec' or 'load'", "got 'docker'"], "engine:"),
    ("negative-seed", _set("run", "seed", -1), "run.seed", ["expected a value >= 0", "got -1"], "seed:"),
]


@pytest.mark.parametrize(
    "mutate, path, fragments, line_text", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_one_problem_names_file_line_path_expected_and_given(mutate, path, fragments, line_text):
    data = base()
    mutate(data)
    text = dump(data)
    exc = problems_of_text(text, file="bad.yaml")
    assert len(exc.problems) == 1, messages(exc)
    problem = exc.problems[0]
    assert problem.path == path
    for fragment in fragments:
        assert fragment in problem.message
    assert problem.line is not None
    if line_text is None:
        # No line of its own (a missing field, a whole step): the line of the nearest parent.
        pass
    else:
        assert line_text in text.splitlines()[problem.line - 1], (problem, text)
    rendered = str(exc)
    assert rendered.splitlines()[0] == "bad.yaml: invalid scenario (1 problem)"
    assert f"  bad.yaml:{problem.line}: {path}: {problem.message}" in rendered.splitlines()


@pytest.mark.parametrize("field", ["name", "fleet", "dependencies", "bootstrap"])
def test_missing_top_level_field_points_at_the_first_line(field):
    data = base()
    del data[field]
    exc = problems_of(data)
    assert messages(exc) == [f"s.yaml:1: {field}: required field is missing"]


def test_line_numbers_follow_the_file_as_written():
    """Lines come from the text as the user wrote it: flow mappings, comments and all."""
    text = BASE_YAML.replace("  size: 50", "  size: 0   # oops")
    text = text.replace("{kind: uniform, low: 1s, high: 3s}", "{kind: uniform, low: 3s, high: 1s}")
    text = text.replace("timeout: 1s", "timeout: soon")
    exc = problems_of_text(text)
    assert messages(exc) == [
        "s.yaml:7: fleet.size: expected a value >= 1; got 0",
        "s.yaml:26: bootstrap.steps.0.timeout: expected a duration like 250ms, 30s, 2m or 1h30m, "
        "got 'soon'",
        f"s.yaml:{line_of(text, 'low: 3s')}: bootstrap.steps.3.work.high: "
        "high (1.0s) must be >= low (3.0s)",
    ]


def test_cross_field_problems_show_once_the_fields_are_valid():
    """The DAG and cross-reference checks run on valid fields only (pydantic runs a model's
    checks after its fields validate), so they show up on the next validate: never a crash."""
    text = BASE_YAML.replace("after: [token]", "after: [tokn]")
    assert messages(problems_of_text(text)) == [
        f"s.yaml:{line_of(text, 'after: [tokn]')}: bootstrap.steps.1.after: unknown step 'tokn'; "
        "steps are token, creds, secret, start_app"
    ]


def test_several_problems_are_all_reported_with_the_count_in_the_header():
    data = base()
    data["fleet"]["size"] = 0
    data["run"]["horizon"] = "1 fortnight"
    _steps(data)[1]["retyr"] = 1
    data["faults"][0]["latency"] = "slow"
    exc = problems_of(data, file="many.yaml")
    lines = str(exc).splitlines()
    assert lines[0] == "many.yaml: invalid scenario (4 problems)"
    assert len(lines) == 5
    paths = [p.path for p in exc.problems]
    assert sorted(paths) == sorted(["fleet.size", "run.horizon", "bootstrap.steps.1.retyr", "faults.0.latency"])
    assert all(line.startswith("  many.yaml:") for line in lines[1:])


def test_cross_reference_problems_come_together_with_field_problems():
    # Two undefined calls and a fault on an unknown target are found in one pass.
    data = base()
    _steps(data)[1]["call"] = "imds.GetCreds"
    _steps(data)[2]["call"] = "vault.Read"
    data["faults"][0]["target"] = "vault"
    exc = problems_of(data)
    assert [p.path for p in exc.problems] == [
        "bootstrap.steps.1.call", "bootstrap.steps.2.call", "faults.0.target",
    ]
    assert "imds has no operation 'GetCreds'; it has: PutToken, GetCredentials" in exc.problems[0].message
    assert "dependency 'vault' is not defined" in exc.problems[1].message


# --- YAML itself ---------------------------------------------------------------------------


def test_yaml_syntax_error_has_the_line_and_no_top_level_placeholder():
    text = BASE_YAML.replace("  size: 50", "  size: [50")
    exc = problems_of_text(text)
    (line,) = messages(exc)
    assert line.startswith("s.yaml:8: not valid YAML: ")
    assert "while parsing a flow sequence (line 7)" in line
    assert "expected ',' or ']'" in line
    assert "(column " in line
    assert "(top level)" not in line


def test_yaml_tab_indentation_says_to_use_spaces():
    exc = problems_of_text(BASE_YAML.replace("  seed: 3", "\tseed: 3"))
    (line,) = messages(exc)
    assert line.startswith("s.yaml:4: not valid YAML: ")
    assert "indent with spaces" in line


def test_yaml_unclosed_quote():
    exc = problems_of_text(BASE_YAML.replace("name: tiny", "name: 'tiny"))
    (line,) = messages(exc)
    assert "not valid YAML" in line and "quoted scalar (line 1)" in line


def test_yaml_bad_indentation_names_both_lines():
    text = BASE_YAML.replace("    concurrency: 100", "      concurrency: 100")
    (line,) = messages(problems_of_text(text))
    assert line.startswith(f"s.yaml:{line_of(text, 'service_time: {kind: lognormal')}: not valid YAML")
    assert "while parsing a block mapping (line 11)" in line


def test_two_documents_in_one_file():
    (line,) = messages(problems_of_text(BASE_YAML + "---\nname: other\n"))
    assert "not valid YAML: expected a single document in the stream (line 1)" in line
    assert "but found another document" in line


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(text):
    exc = problems_of_text(text, file="empty.yaml")
    assert messages(exc) == [
        "empty.yaml: the file is empty; expected a scenario mapping (name, fleet, dependencies, "
        "bootstrap, ...)"
    ]


@pytest.mark.parametrize("text, got", [("- name: a\n- name: b\n", "a list"),
                                       ("just words\n", "'just words' (str)"),
                                       ("42\n", "42 (int)")])
def test_top_level_not_a_mapping(text, got):
    exc = problems_of_text(text)
    assert messages(exc) == [
        f"s.yaml:1: expected a mapping of scenario fields (name: ..., fleet: ...), got {got}"
    ]


def test_duplicate_keys_are_problems_not_silently_dropped():
    text = BASE_YAML.replace("      timeout: 5s\n", "      timeout: 5s\n      timeout: 50s\n")
    first = line_of(text, "timeout: 5s")
    exc = problems_of_text(text)
    assert messages(exc) == [
        f"s.yaml:{first + 1}: bootstrap.steps.2.timeout: duplicate key 'timeout' (first on line "
        f"{first}); YAML would silently keep only the last one"
    ]


def test_duplicate_keys_are_reported_with_the_other_problems():
    text = BASE_YAML.replace("  size: 50", "  size: 0") + "name: again\n"
    exc = problems_of_text(text)
    assert [p.path for p in exc.problems] == ["name", "fleet.size"]
    assert "duplicate key 'name' (first on line 1)" in exc.problems[0].message


def test_yaml_merge_keys_are_not_duplicates():
    text = BASE_YAML.replace(
        "    - name: creds\n", "    - &creds_step\n      name: creds\n"
    ).replace(
        "faults:", "    - {<<: *creds_step, name: creds2, after: [creds], marks: []}\nfaults:"
    )
    scenario = load_text(text)
    assert [s.name for s in scenario.bootstrap.steps][-1] == "creds2"


def test_recursive_alias_is_a_problem_not_a_crash():
    exc = problems_of_text(BASE_YAML + "extra: &loop [*loop]\n")
    (problem,) = exc.problems
    assert problem.path == "extra.0"
    assert "recursive" in problem.message
    assert problem.line == line_of(BASE_YAML + "extra: &loop [*loop]\n", "extra:")


def test_python_tags_are_refused_by_the_safe_loader():
    exc = problems_of_text(BASE_YAML.replace("name: tiny", "name: !!python/object:os.system ls"))
    (line,) = messages(exc)
    assert line.startswith("s.yaml:1: not valid YAML")


def test_a_tagged_value_yaml_cannot_read():
    exc = problems_of_text(BASE_YAML.replace("size: 50", "size: !!int many"))
    assert messages(exc) == [
        "s.yaml:7: not valid YAML: a tagged value cannot be read (invalid literal for int() "
        "with base 10: 'many')"
    ]


def test_invalid_scenario_is_an_invalid_input_with_every_problem():
    exc = problems_of_text("")
    assert isinstance(exc, InvalidScenario)
    assert exc.file == "s.yaml"
    assert str(exc) == exc.render()


def test_a_boolean_is_not_a_count():
    data = base()
    data["fleet"]["size"] = True
    (problem,) = problems_of(data).problems
    assert problem.path == "fleet.size" and "got true" in problem.message


def test_a_mark_that_is_not_text_is_a_problem_not_a_crash():
    data = base()
    _steps(data)[2]["mark"] = 5
    (problem,) = problems_of(data).problems
    assert problem.path.startswith("bootstrap.steps.2")


# --- no bad file crashes the loader --------------------------------------------------------

_SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
_ODD_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**7) | st.floats(allow_nan=True)
    | st.sampled_from(["", "x", "1s", "-1s", "10m", "ready", "imds.PutToken", "fixed", "99%"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["kind", "at", "name", "rate", "x"]), inner, max_size=3),
    max_leaves=6,
)


def _leaf_paths(value, path=()):
    if path:
        yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaf_paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, path + (i,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_edit_of_a_scenario_validates_or_gives_problems_never_a_crash(data):
    source = data.draw(st.sampled_from([None, *_SHIPPED]), label="scenario")
    scenario = base() if source is None else yaml.safe_load(source.read_text())
    paths = list(_leaf_paths(scenario))
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        path = data.draw(st.sampled_from(paths), label="path")
        parent = scenario
        try:
            for key in path[:-1]:
                parent = parent[key]
            if data.draw(st.booleans(), label="delete") and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(_ODD_VALUES, label="value")
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this place
    try:
        load_text(dump(scenario))
    except InvalidScenario as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message and "Traceback" not in problem.message
            assert problem.line is None or problem.line >= 1


_YAML_PIECES = ["name", "fleet", "size", ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",",
                "&a", "*a", "!!int", "!!binary", "!!set", "? ", "'", '"', "#", "---", "|", "<<",
                "\t", "null", "1", "-1", "1e9", "2024-01-01", "%YAML 1.1"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_YAML_PIECES), max_size=30), st.integers(0, len(BASE_YAML)))
def test_any_garbled_text_gives_problems_never_a_crash(pieces, at):
    for text in ("".join(pieces), BASE_YAML[:at] + "".join(pieces) + BASE_YAML[at:]):
        try:
            load_text(text)
        except InvalidScenario as exc:
            assert exc.problems and all(p.message for p in exc.problems)
