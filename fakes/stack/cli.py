"""``bootstorm fakes up|down|toxiproxy``: the fakes stack from a shell.

    bootstorm fakes up [SCENARIO] [--state FILE]   start every fake (foreground); Ctrl-C stops
    bootstorm fakes down [--state FILE]            stop a stack another shell started
    bootstorm fakes toxiproxy [--host H] [--port P]  only the Toxiproxy-compatible server

``main(argv)`` takes the arguments after ``fakes`` and returns the exit code: 0 done, 1 a fake
failed, 2 bad input. ``python -m fakes.stack.cli up`` runs it without the ``bootstorm`` script.
Secret values are never printed: only their names.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Sequence

from fakes.stack.state import DEFAULT_STATE_FILE, group_alive, read_state, stop_from_state
from sim.errors import FakeFailed, InvalidInput

__all__ = ["main", "EXAMPLE_INSTANCE_ID"]

EXAMPLE_INSTANCE_ID = "i-0e8a3b1e000000001"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 with the message, like every other bad input
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bootstorm fakes", description="Start and stop the fakes stack.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    up = sub.add_parser("up", help="start every fake in the foreground (Ctrl-C stops them all)")
    up.add_argument("scenario", nargs="?", help="scenario YAML whose `fakes:` section to seed (default: defaults)")
    up.add_argument("--state", default=DEFAULT_STATE_FILE, help=f"state file to write (default {DEFAULT_STATE_FILE})")
    down = sub.add_parser("down", help="stop the stack a state file describes")
    down.add_argument("--state", default=DEFAULT_STATE_FILE, help=f"state file to read (default {DEFAULT_STATE_FILE})")
    toxi = sub.add_parser("toxiproxy", help="run only the Toxiproxy-compatible server")
    toxi.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    toxi.add_argument("--port", type=int, default=8474, help="API port (default 8474; 0 picks a free one)")
    return parser


def _refuse_running(state_path: str) -> None:
    if not os.path.exists(state_path):
        return
    try:
        state = read_state(state_path)
    except InvalidInput:
        return  # not ours or unreadable: overwritten when the new stack is up
    alive = [name for name, p in state["processes"].items() if p.get("pgid") and group_alive(int(p["pgid"]))]
    if alive:
        raise InvalidInput(
            f"{state_path}: a fakes stack is already running ({', '.join(sorted(alive))}); "
            f"stop it with `bootstorm fakes down --state {state_path}` or pick another --state"
        )


def _print_up(stack, state_path: str) -> None:
    out = sys.stdout
    print("bootstorm fakes: the stack is up", file=out)
    print("endpoints (bootstraps use the proxied ones; *_direct are the fakes' control APIs):", file=out)
    for name, url in sorted(stack.endpoints().items()):
        print(f"  {name:<22} {url}", file=out)
    print(f"secrets planted (values never printed): {', '.join(sorted(stack.planted_secrets())) or 'none'}", file=out)
    print(f"role: {stack.config.role_name}   region: {stack.config.region}   "
          f"IAM enforcement: {'on' if stack.config.enforce_iam else 'off'}", file=out)
    print(f"example environment for instance {EXAMPLE_INSTANCE_ID} (added to IMDS):", file=out)
    for key, value in sorted(stack.add_instance(EXAMPLE_INSTANCE_ID).items()):
        print(f"  export {key}={value}", file=out)
    print(f"state file: {os.path.abspath(state_path)}", file=out)
    print("ready; Ctrl-C (or `bootstorm fakes down`) stops every fake", file=out, flush=True)


def _up(args: argparse.Namespace) -> int:
    from fakes.stack.stack import Stack

    source = None
    if args.scenario:
        from sim.scenario import load_scenario

        source = load_scenario(args.scenario)
    _refuse_running(args.state)
    stop = threading.Event()
    starting = True

    def on_signal(signum, frame):
        if starting:  # abort start(); Stack.start stops what it had started
            raise KeyboardInterrupt(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = Stack(source, state_file=args.state)
    stack.state_extra["owner_pid"] = os.getpid()
    try:
        try:
            stack.start()
        except KeyboardInterrupt:
            print("bootstorm fakes: interrupted while starting; stopped", file=sys.stderr)
            return 0
        starting = False
        _print_up(stack, args.state)
        while not stop.wait(0.5):
            if stack.failure is not None:
                print(f"bootstorm fakes: {stack.failure}", file=sys.stderr)
                return 3
        print("bootstorm fakes: stopping", flush=True)
        return 0
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _down(args: argparse.Namespace) -> int:
    result = stop_from_state(args.state)
    if result["still_running"]:
        print(f"bootstorm fakes: process groups still running after SIGKILL: {result['still_running']}", file=sys.stderr)
        return 3
    print(f"bootstorm fakes: stopped {', '.join(result['processes'])}; removed {args.state}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bootstorm fakes`` with ``argv`` (the arguments after ``fakes``); the exit code."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "up":
            return _up(args)
        if args.command == "down":
            return _down(args)
        from fakes.toxiproxy import main as toxiproxy_main

        return toxiproxy_main(["--host", args.host, "--port", str(args.port)])
    except InvalidInput as exc:
        print(f"bootstorm fakes: error: {exc}", file=sys.stderr)
        return 2
    except FakeFailed as exc:  # a harness failure: exit 3, as `bootstorm run`
        print(f"bootstorm fakes: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("bootstorm fakes: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # anything else the harness did not expect: no traceback either
        from sim.cli import harness_failure

        print(f"bootstorm fakes: {harness_failure(exc)}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
