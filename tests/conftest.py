"""Root conftest of the test suite: the plugins every test directory may use.

bootstorm's pytest plugin is normally loaded by its ``pytest11`` entry point (``pip install
-e .``); in a tree that is not installed (or installed before the plugin existed) it is loaded
here instead, never both (pytest refuses to register one module twice). ``pytester`` drives
the plugin's own end-to-end tests.
"""

from importlib.metadata import entry_points


def _plugin_installed() -> bool:
    return any(ep.value == "sim.pytest_plugin" for ep in entry_points(group="pytest11"))


pytest_plugins = ["pytester"] + ([] if _plugin_installed() else ["sim.pytest_plugin"])
