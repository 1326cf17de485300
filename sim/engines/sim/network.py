"""A dependency behind a network: a delay on the wire each way, outside the service time.

An attempt sent at ``t`` arrives at the dependency ``request`` seconds later; that is when the
dependency sees it (its offered load, its queue, its quotas and faults). The answer reaches
the caller ``response`` seconds after the dependency sends it. The caller's timeout covers the
whole round trip: the dependency's own clock for the caller is the timeout minus both delays,
so an answer that leaves it in time reaches the caller in time, and one that does not is work
wasted and a timeout, exactly as without a network.

A compare-and-set attempt is a read and a write: the version is read when the request arrives,
and the write lands one more round trip later (the read's answer goes back, the write comes
in). That round trip is the window in which another caller's write makes it fail, and a
conflict is followed by a new read only after the answer travelled back: what
optimistic-concurrency models depend on.

Only dependencies with ``network`` set use this class, so the others pay nothing for it.
"""

from __future__ import annotations

import math

from sim.distributions import sampler
from sim.engines.sim.dependency import TIMEOUT, DependencyModel, Request

__all__ = ["NetworkedDependency"]


class _NetRequest(Request):
    __slots__ = ("caller", "back")


class NetworkedDependency(DependencyModel):
    def __init__(self, clock, rng, name, spec, *args):
        super().__init__(clock, rng, name, spec, *args)
        self.request_delay = sampler(spec.network.request)
        self.response_delay = sampler(spec.network.response)

    def call(self, op_index, boot, on_done, timeout, first, auth_error, req=None):
        rng = self.rng
        now = self.clock._now
        there = self.request_delay(rng)
        back = self.response_delay(rng)
        req = _NetRequest(op_index, boot, self._relay, now)
        req.caller = on_done
        req.back = back
        later = self.later
        if self.ops[op_index].cas:
            # The read's answer travels back and the write travels in before the write lands.
            extra = self.response_delay(rng) + self.request_delay(rng)
            later(there, self._read, req)
            there += extra
        remaining = timeout - there - back  # the dependency's share of the caller's timeout
        if remaining <= 0.0:
            # No answer can come back in time: the caller gives up at its timeout, and the
            # request still arrives and loads the dependency as abandoned work.
            req.answered = True
            later(timeout, self._gave_up, req)
            remaining = math.inf
        later(there, self._arrive, (req, remaining, first, auth_error))
        return req

    def _read(self, req):
        req.read_version = self.versions[req.op]

    def _arrive(self, value):
        req, timeout, first, auth_error = value
        req.arrival = self.clock._now
        if req.answered and not self.continue_after_timeout:
            # The caller hung up before the request got here; the server drops it unserved.
            self.offered[self._slot(req.arrival)] += 1
            if first:
                self.needed[self._slot(req.arrival)] += 1
            return
        DependencyModel.call(self, req.op, req.boot, self._relay, timeout, first, auth_error, req)

    def _relay(self, req, code):
        """The dependency answered (or timed the caller out): the caller hears of it one
        response delay later, which is when its timeout falls if the code is a timeout."""
        self.later(req.back, self._deliver, (req, code))

    def _deliver(self, value):
        req, code = value
        req.caller(req, code)

    def _gave_up(self, req):
        self.timed_out[self._slot(self.clock._now)] += 1
        req.caller(req, TIMEOUT)
