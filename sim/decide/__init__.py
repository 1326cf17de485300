"""From one run to a decision: sweeps, capacity plans and comparisons over many seeded runs.

    prepare_sweep / run_sweep / sweep_folder     bootstorm sweep   (sweep.py, table.py)
    find_limit / write_plan                      bootstorm plan    (plan.py)
    compare_folders / compare_scenarios          bootstorm compare (compare.py)
    replicate -> Outcome                         N seeds of one scenario, for tests (outcome.py)
    open_executor                                a process pool or a Dask cluster (executors.py)
    Task / run_task / run_tasks                  one run as plain data in, metrics out (task.py)
    stats                                        intervals, tests, metric direction (stats.py)

Every run is a sim run with ``--set`` overrides and a seed; seed i is the same at every point
(common random numbers). See docs/decisions.md.
"""

from sim.decide.compare import Comparison, compare_folders, compare_scenarios, write_comparison
from sim.decide.executors import default_workers, open_executor
from sim.decide.outcome import Outcome, replicate
from sim.decide.plan import PlanResult, find_limit, write_plan
from sim.decide.space import Vary, build_points, parse_vary
from sim.decide.sweep import SweepPlan, SweepResult, prepare_sweep, run_sweep, sweep_folder
from sim.decide.table import PointStats, aggregate
from sim.decide.task import Task, run_task, run_tasks

__all__ = [
    "find_limit",
    "write_plan",
    "PlanResult",
    "compare_folders",
    "compare_scenarios",
    "write_comparison",
    "Comparison",
    "replicate",
    "Outcome",
    "prepare_sweep",
    "run_sweep",
    "sweep_folder",
    "SweepPlan",
    "SweepResult",
    "open_executor",
    "default_workers",
    "Vary",
    "parse_vary",
    "build_points",
    "Task",
    "run_task",
    "run_tasks",
    "PointStats",
    "aggregate",
]
