"""The reference numbers of tests/unit/test_sim_network.py (REFERENCE_50), regenerated.

A re-statement, written for this project, of the model in the simulator behind Marc Brooker's
"Exponential Backoff And Jitter" (AWS Architecture Blog, 2015; aws-samples/aws-arch-backoff-
simulator): N clients update one row with OCC (read, then conditional write, each message
delayed |N(10 ms, 2 ms)|), backoff base 5 ms and cap 2 s, the n-th retry sleeping from
2**n * base; writes are counted. It shares no code with bootstorm, so the test compares the
sim engine against an independent model.

    python tests/benchmarks/reference_backoff_occ.py     # prints clients, kind, ms, writes
"""
import heapq, random, sys
def run(n, kind, rng):
    base, cap = 5.0, 2000.0
    d = lambda: abs(rng.normalvariate(10, 2))
    version = [0]; calls = [0]
    q = []; seq = [0]
    def push(t, f, *a):
        seq[0] += 1; heapq.heappush(q, (t, seq[0], f, a))
    state = [{"attempt": 0, "sleep": base} for _ in range(n)]
    def backoff(c):
        s = state[c]; a = s["attempt"]; v = min(cap, 2 ** a * base)
        if kind == "none": return 0
        if kind == "expo": return v
        if kind == "equal": return v / 2 + rng.uniform(0, v / 2)
        if kind == "full": return rng.uniform(0, v)
        s["sleep"] = min(cap, rng.uniform(base, s["sleep"] * 3)); return s["sleep"]
    def read(t, c): push(t + d(), read_rsp, c, version[0])
    def read_rsp(t, c, v): push(t + d(), write, c, v)
    def write(t, c, v):
        calls[0] += 1
        ok = v == version[0]
        if ok: version[0] += 1
        push(t + d(), write_rsp, c, ok)
    def write_rsp(t, c, ok):
        if not ok:
            state[c]["attempt"] += 1
            push(t + d() + backoff(c), read, c)
    for c in range(n): push(d(), read, c)
    t = 0
    while q:
        t, _, f, a = heapq.heappop(q); f(t, *a)
    return t, calls[0]
rng = random.Random(1)
for n in (10, 50, 100):
    for kind in ("none", "expo", "equal", "full", "decorr"):
        R = 100 if n < 100 else 50
        tt = cc = 0
        for _ in range(R):
            t, c = run(n, kind, rng); tt += t; cc += c
        print(n, kind, round(tt / R), round(cc / R, 1))
