"""The public names of sim.decide, locked (as httpx's test_exported_members does)."""

import sim.decide


def test_exported_members():
    assert sorted(sim.decide.__all__) == sorted([
        "find_limit", "write_plan", "PlanResult", "compare_folders", "compare_scenarios",
        "write_comparison", "Comparison", "replicate", "Outcome", "prepare_sweep", "run_sweep",
        "sweep_folder", "SweepPlan", "SweepResult", "open_executor", "default_workers", "Vary",
        "parse_vary", "build_points", "Task", "run_task", "run_tasks", "PointStats", "aggregate",
    ])
    assert all(hasattr(sim.decide, name) for name in sim.decide.__all__)
