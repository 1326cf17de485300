"""The load engine: the scenario's bootstrap DAG as Locust virtual instances against the fakes.

    run(scenario, seed=None, progress=None, scenario_file=None, stack=None, workers=None,
        remote_workers=0, master_bind_host="127.0.0.1", master_port=None) -> Run

Modules: ``plan`` (checks, scaled times, the job), ``engine`` (fakes, Locust processes, fault
timeline), ``assemble`` (raw records -> Run), ``wire`` (operations as signed HTTP requests),
and, run only inside Locust processes (never imported here: Locust monkey-patches on import),
``locustfile`` (shape, master, workers) and ``vinstance`` (one boot attempt in gevent).
See docs/load-engine.md.
"""

from sim.engines.load.engine import LoadEngine, locust_command, run

__all__ = ["run", "LoadEngine", "locust_command"]
