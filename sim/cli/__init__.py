"""The ``bootstorm`` command line: parse, call the library, print. Nothing else lives here.

Exit codes: 0 done (and every SLO passed), 1 an SLO failed, 2 bad input (scenario, argument),
3 the harness itself failed, 130 interrupted, 141 the reader of the output went away (a
closed pipe, as a shell reports SIGPIPE) (`sim.cli.exits`).

Here: ``main`` (dispatch, and every error turned into its exit code). ``parser`` builds the
parser and holds every --help text; ``run`` is ``bootstorm run``; ``commands`` the other
subcommands (``sweep``, ``plan``, ``compare`` are `sim.decide.cli`'s, ``fakes`` is
`fakes.stack.cli`'s); ``console`` the rich output they share.
"""

from __future__ import annotations

import sys

from sim.cli.commands import cmd_calibrate, cmd_decide, cmd_report, cmd_schema, cmd_validate
from sim.cli.exits import (EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED,  # noqa: F401
                           EXIT_OK, EXIT_RUN_FAILED, EXIT_SLO_FAILED)
from sim.cli.parser import EPILOG as _EPILOG  # noqa: F401 (the examples: tests run each)
from sim.cli.parser import build_parser as _parser
from sim.cli.run import cmd_run
from sim.errors import BootstormError, InvalidInput

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["fakes"]:
            from fakes.stack.cli import main as fakes_main

            return fakes_main(argv[1:])
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BootstormError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `bootstorm schema | head`: the reader stopped; not a failure to report
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a harness failure (a missing module, a broken install): exit 3, no traceback
        print(harness_failure(exc), file=sys.stderr)
        return EXIT_RUN_FAILED


def harness_failure(exc: BaseException) -> str:
    """One line for an unexpected exception: what broke and where, without a traceback."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    hint = ""
    if isinstance(exc, ModuleNotFoundError):
        hint = "; the installation is incomplete: reinstall with `pip install -e .`"
    return f"error: harness failure: {type(exc).__name__}: {exc}{where}{hint}"


_COMMANDS = {"run": cmd_run, "validate": cmd_validate, "schema": cmd_schema,
             "report": cmd_report, "calibrate": cmd_calibrate, "sweep": cmd_decide,
             "plan": cmd_decide, "compare": cmd_decide}
