"""Metrics from a Run: the numbers bootstorm reports, and the SLO verdicts on them.

Computed from a ``sim.results.Run`` only, vectorised (a million attempts take about a second).
Times are seconds; a metric that could not be measured is NaN (and fails any SLO on it unless
the run allows unmeasured SLOs). +inf is "never" (a measurement, not a missing one). What an
engine cannot measure at all is declared in ``sim.engines.NOT_MEASURED`` and set to NaN here.

Instances and attempts
    An instance may boot several times (attempts 1, 2, ... with the same ``instance``): a
    restart, a replacement after a failed boot. "Instances launched" is the number of distinct
    instance ids in the attempt table.

Fleet metrics (names as in ``sim.scenario.slos.METRICS``)
    ``bootstrap_success_rate``
        instances with at least one ``ready`` attempt / instances launched.
    ``time_to_ready.{p50,p90,p95,p99,p99.9,max,mean}``
        over the FLEET: per instance launched, the ready time of its (first) ready attempt minus
        the launch of its FIRST attempt, so restarts count against it; +inf for an instance
        that never became ready, and any percentile that interpolates towards one is +inf.
        NaN only with no instances.
    ``time_to_ready_of_ready.*``
        the same over the instances that became ready. NaN when nobody was ready.
    ``secret_fetch_latency.*``
        ``mark_secret_fetched - start`` per attempt that reached the mark.
    ``agent_start_time.*``
        ``mark_agent_started - start`` per attempt that reached the mark.
    ``initial_metric_gap.*``
        per attempt that reached ``app_started``: ``max(0, agent_started - app_started)``; when
        the agent never started, ``end - app_started`` (the run's end for attempts that never
        ended): how long the app ran unobserved.
    ``cold_start_latency.*``
        ``mark_app_started - launch`` per attempt.
    ``bootstrap_error_rate``
        attempts with outcome ``failed`` or ``hung`` per 1,000 attempts (all outcomes counted in
        the denominator, ``unfinished`` included).
    ``bootstrap_retries.{mean,p99,max}``
        of ``retries`` per attempt; the report also shows the mean per step.
    ``config_validation_failures``
        attempts whose ``error_class`` is ``ConfigValidationFailed``.
    ``secret_exposure_events``
        attempts whose ``findings`` (``;``-joined names) include ``secret_exposure``; NaN on
        engines that run no script (``sim``).
    ``attempts_per_instance.{mean,max}``
        attempts per instance launched.
    Percentiles are numpy's linear interpolation over the values; ``max`` and ``mean`` are exact.

Dependency metrics (``dependencies.<name>.<metric>``, names as in ``DEPENDENCY_METRICS``)
    ``peak_offered_rps``, ``peak_served_rps``
        max over intervals of count / interval length.
    ``throttled_share``, ``failed_share``, ``timed_out_share``
        the run's sum of each over the run's sum of offered calls (NaN with no calls).
    ``retry_amplification``
        sum of offered / sum of needed (calls made / logical calls started).
    ``goodput``
        sum of served / sum of offered.
    ``latency.p50``, ``latency.p99``
        from the whole run's latency histogram (upper edge of the bin: within ~6 %).
    ``time_to_drain``
        the "last fault" is the latest-ending fault whose ``target`` is this dependency; when
        no fault targets it, the latest-ending fault of the run (a fault on the network or on
        another service can drive this dependency too). An instant fault (expire_credentials)
        ends at its start; a fault that started at or after the run's end is left out.
        An interval is clean when throttled +
        failed + timed_out + rejected is 0 and offered <= 1.1 x needed (offered back to the
        first-try load: steady first tries such as heartbeats are needed load, only retries and
        backlog make an interval unclean). Time to drain = start
        of the first interval from which every interval to the end of the run is clean, minus
        the last fault's end; 0 when clean right away. +inf ("never", within the run) when the
        run's last interval is still not clean though the run watched at least one whole
        interval after the fault (a measurement: an SLO ``time_to_drain <= X`` fails). NaN (not
        measured) with no fault, with a fault that never ended or outlasted the run, or that
        ended in the run's last interval.
    ``metastable``
        1.0 when the dependency stayed overloaded after its trigger went away, else 0.0.
        The tail is every interval starting at or after last fault end + 30 s grace; it needs
        at least 2 intervals. Overloaded (over a span of intervals): errors (throttled + failed +
        timed_out + rejected) >= 10 % of offered and offered >= 1.5 x needed (offered with
        nothing needed counts). Metastable when the whole tail AND its final third (at least
        one interval) are overloaded, and, when ``capacity_rps`` is known, the needed load
        alone over the tail fits under that capacity (otherwise the dependency is simply too
        small, which is overload, not metastability). The last fault is chosen as for
        ``time_to_drain``. 0.0 with no fault; NaN (not measured) with a fault that never ended or
        with a tail too short to judge (the last case also adds a validity warning).

Report-only numbers
    Outcome counts, error class counts, failed step counts, findings counts, mean retries per
    step, and the phase breakdown (``sim.metrics.phases``).

Validity warnings
    The engine's ``meta.warnings``, plus: the run is partial; a fault never happened (it
    started after the run ended); the run ended too soon after a
    dependency's last fault to judge metastability; (exec/load engines only) a
    dependency's peak served rate reached >= 90 % of its fake's ``capacity_rps``, so the harness
    may have been the bottleneck. For the ``sim`` engine the capacity is the model's, not a
    harness limit, so there is no such warning.

SLO verdicts
    ``evaluate_slos(slos, metrics, engine=None, allow_unmeasured=False)``: one ``Verdict`` per
    SLO, ``pass``, ``fail``, ``unmeasured`` (missing or NaN; fails unless allowed) or
    ``not_applicable`` (scoped to other engines than ``engine``: neither passes nor fails).
"""

from .attempts import attempt_metrics, initial_metric_gap, time_to_ready
from .dependencies import dependency_metrics, is_metastable, last_fault_end, time_to_drain
from .phases import Phase, phase_breakdown
from .summary import Summary, compute_metrics, summarize, validity_warnings
from .verdicts import FAIL, NOT_APPLICABLE, PASS, UNMEASURED, Verdict, evaluate_slos, parse_slos

__all__ = [
    "Summary",
    "summarize",
    "compute_metrics",
    "validity_warnings",
    "Verdict",
    "PASS",
    "FAIL",
    "UNMEASURED",
    "NOT_APPLICABLE",
    "evaluate_slos",
    "parse_slos",
    "Phase",
    "phase_breakdown",
    "attempt_metrics",
    "time_to_ready",
    "initial_metric_gap",
    "dependency_metrics",
    "time_to_drain",
    "is_metastable",
    "last_fault_end",
]
