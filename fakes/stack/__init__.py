"""Every fake as one stack: start, wire, fault, read and stop them together.

    Stack(scenario).start() / with Stack(scenario) as stack     moto, gate, IMDS, sinks, toxiproxy
    stack.add_instance(instance_id) -> env                       what one bootstrap is given
    stack.apply_fault(kind, target, **params) -> FaultHandle     stack.apply(fault_spec)
    stack.lift_fault(handle)
    FaultTimeline(stack, scenario.faults).start() / .stop()      faults on wall-clock time
    check_scenario(scenario) -> warnings                         InvalidInput if faults can't run
    stack.request_log(since), stack.sink_summary(), stack.capacity()
    stop_from_state(path)                                        `bootstorm fakes down`

Modules: ``stack`` (lifecycle, wiring), ``faults`` (fault kind -> control API), ``timeline``,
``reading`` (request log, capacity), ``proxies`` (toxiproxy), ``config``, ``state`` (state
file), ``cli`` (``bootstorm fakes``). See docs/fakes.md.
"""

from fakes.stack.config import StackConfig
from fakes.stack.faults import DEPENDENCY_FAKES, FaultHandle, check_fault, check_scenario
from fakes.stack.stack import ENDPOINT_VARIABLES, Stack
from fakes.stack.state import DEFAULT_STATE_FILE, read_state, stop_from_state
from fakes.stack.timeline import FaultTimeline

__all__ = [
    "Stack",
    "StackConfig",
    "FaultHandle",
    "FaultTimeline",
    "check_scenario",
    "check_fault",
    "stop_from_state",
    "read_state",
    "DEFAULT_STATE_FILE",
    "DEPENDENCY_FAKES",
    "ENDPOINT_VARIABLES",
]
