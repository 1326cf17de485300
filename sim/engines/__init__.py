"""Engines: ``run(scenario, seed) -> Run``. ``sim`` models; ``exec`` and ``load`` run for real."""

__all__ = ["ENGINES"]

ENGINES = ("sim", "exec", "load")
