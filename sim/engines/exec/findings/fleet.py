"""The fleet rule: what many instances did together, from every instance's requests.

``synchronized_retries``
    A retry is a call whose previous call by the same instance to the same (service, operation)
    failed (`sim.engines.exec.calls.RetryRule`). Flagged when some window of ``sync_window`` seconds holds more than ``sync_share``
    of all retries and retries from at least ``sync_min_instances`` instances. The window
    slides (no fixed bins), so a burst straddling a bin edge is still one burst.
"""

from __future__ import annotations

from sim.engines.exec.calls import RetryRule
from sim.engines.exec.findings.evidence import Finding, FindingConfig

__all__ = ["fleet_findings"]


def fleet_findings(all_requests: list[dict], cfg: FindingConfig = FindingConfig()) -> list[Finding]:
    """``synchronized_retries`` over every instance's requests (each with ``instance_id``)."""
    rule = RetryRule()
    retries: list[tuple[float, str]] = []
    for req in sorted(all_requests, key=lambda r: r["t"]):
        if req.get("instance_id") is None:
            continue  # calls the fakes could not attribute would join unrelated instances
        if rule.is_retry((req["instance_id"], req["service"], req["operation"]), req):
            retries.append((req["t"], str(req["instance_id"])))
    if not retries:
        return []
    best, best_at, lo = 0, 0, 0
    for hi in range(len(retries)):  # retries are in time order: a two-pointer sliding window
        while retries[hi][0] - retries[lo][0] >= cfg.sync_window:
            lo += 1
        if hi - lo + 1 > best:
            best, best_at = hi - lo + 1, lo
    window = retries[best_at : best_at + best]
    instances = len({iid for _, iid in window})
    share = best / len(retries)
    if share <= cfg.sync_share or instances < cfg.sync_min_instances:
        return []
    return [Finding("synchronized_retries", (
        f"{best} of {len(retries)} retries ({share:.0%}) from {instances} instances within "
        f"{cfg.sync_window * 1000:.0f} ms of t={window[0][0]:.2f} s"))]
