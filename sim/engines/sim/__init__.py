"""The sim engine: a SimPy discrete-event model of a whole fleet booting."""

from sim.engines.sim.engine import SimEngine, run

__all__ = ["run", "SimEngine"]
