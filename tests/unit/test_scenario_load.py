"""Loading scenarios: files, the shipped scenarios, ``--set`` overrides, the hash, the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from _scenario_fixtures import BASE_YAML, base, dump, load_text, messages, problems_of_text, write
from sim.errors import InvalidArgument, InvalidInput, InvalidScenario
from sim.scenario import apply_override, json_schema, load_scenario, scenario_hash
from sim.scenario.fleet import Burst, Ramp

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def test_the_base_scenario_loads_with_units_converted():
    s = load_text(BASE_YAML)
    assert s.name == "tiny"
    assert s.run.horizon == 600.0 and s.run.seed == 3
    assert s.fleet.size == 50
    assert isinstance(s.fleet.arrival, Ramp) and s.fleet.arrival.over == 30.0
    assert [st.name for st in s.bootstrap.steps] == ["token", "creds", "secret", "start_app"]
    assert s.bootstrap.steps[2].marks == ["secret_fetched"]  # `mark:` shorthand
    assert s.dependencies["imds"].service_time.value == pytest.approx(0.002)
    assert s.faults[0].for_ == 30.0
    assert [slo.threshold for slo in s.slos] == [pytest.approx(0.99), 120.0]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_validates(path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.slos, "a shipped scenario should say what it is judged by"


def test_there_are_shipped_scenarios():
    assert len(SCENARIOS) >= 5


# --- files ---------------------------------------------------------------------------------


def test_file_not_found(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InvalidInput) as info:
        load_scenario(missing)
    assert str(info.value) == f"{missing}: no such scenario file"
    assert not isinstance(info.value, InvalidScenario)


def test_a_directory_instead_of_a_file(tmp_path):
    with pytest.raises(InvalidInput) as info:
        load_scenario(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory; expected a scenario YAML file"


def test_a_binary_file(tmp_path):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(InvalidInput) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: not a text file; expected UTF-8 YAML, got byte 0x89 at offset 0"


def test_problems_name_the_file_as_given(tmp_path):
    data = base()
    data["fleet"]["size"] = -1
    path = write(tmp_path, data, "my-scenario.yaml")
    with pytest.raises(InvalidScenario) as info:
        load_scenario(path)
    assert info.value.file == str(path)
    assert str(info.value).splitlines() == [
        f"{path}: invalid scenario (1 problem)",
        f"  {path}:7: fleet.size: expected a value >= 1; got -1",
    ]


def test_load_scenario_accepts_a_string_path(tmp_path):
    path = write(tmp_path, BASE_YAML)
    assert load_scenario(str(path)).name == "tiny"


# --- --set overrides: successes ------------------------------------------------------------


def test_set_an_integer():
    assert load_text(BASE_YAML, ["fleet.size=200"]).fleet.size == 200


def test_set_a_duration_string():
    s = load_text(BASE_YAML, ["run.horizon=2h30m", "bootstrap.steps.0.timeout=250ms"])
    assert s.run.horizon == 9000.0
    assert s.bootstrap.steps[0].timeout == pytest.approx(0.25)


def test_set_a_mapping_value():
    s = load_text(BASE_YAML, ["fleet.arrival={kind: burst, at: 10s}"])
    assert isinstance(s.fleet.arrival, Burst) and s.fleet.arrival.at == 10.0


def test_set_a_list_value():
    s = load_text(BASE_YAML, ["slos=[time_to_ready.p99 <= 5m, bootstrap_success_rate >= 90%]"])
    assert [slo.text for slo in s.slos] == ["time_to_ready.p99 <= 5m", "bootstrap_success_rate >= 90%"]


def test_set_through_a_list_index_and_a_negative_index():
    s = load_text(BASE_YAML, ["bootstrap.steps.1.retry.max_attempts=7",
                              "bootstrap.steps.-1.work=4s"])
    assert s.bootstrap.steps[1].retry.max_attempts == 7
    assert s.bootstrap.steps[3].work.value == 4.0


def test_set_creates_a_missing_mapping():
    s = load_text(BASE_YAML, ["fleet.replacement.enabled=true", "fleet.replacement.max_attempts=2"])
    assert s.fleet.replacement.enabled is True and s.fleet.replacement.max_attempts == 2


def test_set_a_string_with_an_equals_sign_and_an_empty_value():
    s = load_text(BASE_YAML, ["description=a=b", "bootstrap.command="])
    assert s.description == "a=b"
    assert s.bootstrap.command == ""


def test_set_the_retry_kind_as_the_autoscale_storm_comment_suggests():
    path = next(p for p in SCENARIOS if p.name == "autoscale-storm.yaml")
    s = load_scenario(path, ["bootstrap.steps.5.retry.kind=full_jitter",
                             "bootstrap.steps.5.retry.max_attempts=10",
                             "dependencies.ssm.operations.GetParameter.quota.rate=10000"])
    assert s.bootstrap.steps[5].retry.kind == "full_jitter"
    assert s.bootstrap.steps[5].retry.max_attempts == 10
    assert s.dependencies["ssm"].operations["GetParameter"].quota.rate == 10000


def test_set_on_a_step_that_shares_a_yaml_anchor_changes_only_that_step():
    text = BASE_YAML.replace(
        "      retry: {kind: fixed, delay: 1s, max_attempts: 3}",
        "      retry: &r {kind: fixed, delay: 1s, max_attempts: 3}",
    ).replace("      retry: {kind: aws_standard}", "      retry: *r")
    s = load_text(text, ["bootstrap.steps.1.retry.delay=5s"])
    assert s.bootstrap.steps[1].retry.delay == 5.0
    assert s.bootstrap.steps[2].retry.delay == 1.0


def test_set_does_not_change_the_callers_data():
    data = base()
    before = dump(data)
    apply_override(data, "fleet.size=7")
    assert data["fleet"]["size"] == 7  # apply_override edits what it is given, on purpose
    assert load_text(before, ["fleet.size=9"]).fleet.size == 9
    assert load_text(before).fleet.size == 50


def test_apply_override_returns_the_key_path():
    data = base()
    assert apply_override(data, "bootstrap.steps.-1.name=end") == ("bootstrap", "steps", 3, "name")
    assert data["bootstrap"]["steps"][3]["name"] == "end"


# --- --set overrides: errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "item, message",
    [
        ("fleet.size", "--set expects PATH=VALUE (e.g. fleet.size=500), got 'fleet.size'"),
        ("=5", "--set expects PATH=VALUE with a dotted path, got '=5'"),
        ("fleet..size=5", "--set expects PATH=VALUE with a dotted path, got 'fleet..size=5'"),
        ("bootstrap.steps.9.name=x",
         "--set bootstrap.steps.9.name=x: index 9 is out of range; the list has 4 items (0..3)"),
        ("bootstrap.steps.first.name=x",
         "--set bootstrap.steps.first.name=x: expected a list index (0..3) at 'first', got a name"),
        ("fleet.size.value=5",
         "--set fleet.size.value=5: fleet.size holds 50, not a mapping or list, so it has no "
         "field 'value'"),
        ("name.first.x=1",
         "--set name.first.x=1: name holds 'tiny', not a mapping or list, so it has no field 'first'"),
    ],
)
def test_set_syntax_errors_are_invalid_arguments(item, message):
    with pytest.raises(InvalidArgument) as info:
        load_text(BASE_YAML, [item])
    assert str(info.value) == message


def test_set_a_recursive_value_is_refused():
    with pytest.raises(InvalidArgument) as info:
        load_text(BASE_YAML, ["fleet=&a [*a]"])
    assert str(info.value) == "--set fleet=&a [*a]: the value refers to itself (a recursive alias)"


def test_set_a_value_yaml_cannot_read_is_taken_as_text():
    (line,) = messages(problems_of_text(BASE_YAML, ["fleet.size=!!int many"]))
    assert line == ("s.yaml: fleet.size: expected an integer; got '!!int many' "
                    "(value from --set fleet.size=!!int many)")


def test_a_bad_value_from_set_says_it_came_from_set():
    exc = problems_of_text(BASE_YAML, ["run.horizon=1 fortnight"])
    assert messages(exc) == [
        "s.yaml: run.horizon: expected a duration like 250ms, 30s, 2m or 1h30m, got '1 fortnight' "
        "(value from --set run.horizon=1 fortnight)"
    ]


def test_a_bad_field_inside_a_mapping_from_set_says_it_came_from_set():
    exc = problems_of_text(BASE_YAML, ["fleet={size: 0}"])
    assert messages(exc) == [
        "s.yaml: fleet.size: expected a value >= 1; got 0 (value from --set fleet={size: 0})"
    ]


def test_a_value_that_fits_no_member_of_a_union_is_one_problem_also_from_set():
    item = "slos=[{metric: time_to_ready.p95, op: <=, value: [1]}]"
    assert messages(problems_of_text(BASE_YAML, [item])) == [
        f"s.yaml: slos.0.value: expected a string or a boolean or a number; got [1] (value from --set {item})"
    ]


def test_an_unknown_field_from_set():
    (line,) = messages(problems_of_text(BASE_YAML, ["fleet.sise=3"]))
    assert line.startswith("s.yaml: fleet.sise: unknown field 'sise'; did you mean 'size'?")
    assert line.endswith("(value from --set fleet.sise=3)")


def test_a_problem_caused_by_set_beside_it_names_the_set():
    # The new retry kind does not take the step's `delay`: the problem is on the file's line,
    # and it says which --set made it a problem.
    exc = problems_of_text(BASE_YAML, ["bootstrap.steps.1.retry.kind=full_jitter"])
    (problem,) = exc.problems
    assert problem.path == "bootstrap.steps.1.retry.delay"
    assert problem.line == 31
    assert "unknown field 'delay'" in problem.message
    assert problem.message.endswith("(after --set bootstrap.steps.1.retry.kind=full_jitter)")


def test_set_fleet_size_that_steps_no_longer_add_up_to():
    text = BASE_YAML.replace(
        "  arrival: {kind: ramp, over: 30s}",
        "  arrival: {kind: steps, steps: [{at: 0, count: 20}, {at: 10s, count: 30}]}",
    )
    assert load_text(text).fleet.size == 50
    (problem,) = problems_of_text(text, ["fleet.size=60"]).problems
    assert problem.path == "fleet.arrival.steps"
    assert "add up to 50, expected fleet.size = 60" in problem.message
    assert "(after --set fleet.size=60)" in problem.message


def test_a_set_that_fixes_a_bad_file_makes_it_valid():
    bad = BASE_YAML.replace("  size: 50", "  size: 0")
    problems_of_text(bad)
    assert load_text(bad, ["fleet.size=10"]).fleet.size == 10


# --- hash and schema -----------------------------------------------------------------------


def test_scenario_hash_is_stable_and_follows_the_content():
    a = scenario_hash(load_text(BASE_YAML))
    assert a == scenario_hash(load_text(BASE_YAML))
    assert len(a) == 16 and int(a, 16) >= 0
    # Same scenario written differently: same hash.
    assert a == scenario_hash(load_text(BASE_YAML.replace("horizon: 10m", "horizon: 600s")))
    assert a != scenario_hash(load_text(BASE_YAML, ["fleet.size=51"]))


def test_json_schema_describes_the_top_level_fields():
    schema = json_schema()
    assert {"name", "fleet", "dependencies", "bootstrap", "faults", "slos", "run"} <= set(
        schema["properties"]
    )
    assert {"name", "fleet", "dependencies", "bootstrap"} <= set(schema["required"])
    assert "$defs" in schema and "Fleet" in schema["$defs"]
    # `for` is written with its alias, the way a scenario file writes it.
    assert any("for" in d.get("properties", {}) for d in schema["$defs"].values())
