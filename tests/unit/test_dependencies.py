"""Every third-party module the installed packages import is provided by a main dependency.

``pip install -e .`` installs the main ``dependencies`` only: a module that only the ``test``
extra brings (toxiproxy-python once was) makes ``bootstorm fakes up`` die with
ModuleNotFoundError. The imports are read from the source (every ``import``, including the
ones inside functions), mapped to their distributions with
``importlib.metadata.packages_distributions()``, and checked against pyproject's main list.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sim", "fakes")

# Imports a main dependency need not provide, each only in the one module named, and why:
# the module is loaded only where that package is present by definition.
OPTIONAL = {
    # the Dask back end of `sweep/plan/compare --cluster`: the `cluster` extra; imported when
    # --cluster is given, and a missing package is a clear exit-2 message, not a traceback
    "distributed": ("cluster", {"sim/decide/executors.py"}),
    # the pytest plugin is loaded by pytest itself (the pytest11 entry point)
    "pytest": ("test", {"sim/pytest_plugin.py"}),
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _main_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_normal(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def _extra_dependencies(extra: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_normal(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0])
            for spec in project["optional-dependencies"][extra]}


def _imported_top_levels() -> dict[str, set[str]]:
    """Top-level module -> files importing it, for absolute imports in the packages."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_a_main_dependency():
    main = _main_dependencies()
    provided = packages_distributions()
    missing = []
    for module, files in sorted(_imported_top_levels().items()):
        if module in sys.stdlib_module_names or module in PACKAGES:
            continue
        dists = {_normal(d) for d in provided.get(module, [])}
        assert dists, f"module {module!r} (imported by {sorted(files)}) is not installed at all"
        extra, allowed_in = OPTIONAL.get(module, (None, set()))
        if extra and files <= allowed_in and dists & _extra_dependencies(extra):
            continue
        if not dists & main:
            missing.append(f"{module} (from {', '.join(sorted(dists))}; imported by {', '.join(sorted(files))})")
    assert not missing, "imported at run time but not in pyproject's main dependencies: " + "; ".join(missing)


def test_the_check_sees_imports_inside_functions():
    # fakes/stack/proxies.py imports toxiproxy inside a method: the walk must see it.
    assert "fakes/stack/proxies.py" in _imported_top_levels()["toxiproxy"]
