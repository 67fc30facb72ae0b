#!/usr/bin/env python3
"""Times whole processes, start to exit, for scripts/bench.

Input (JSON on stdin): {"runs": R, "warmup": W, "env": {...}, "contenders": [{"name", "argv"}]}.
Each contender is started with posix_spawn (vfork: the harness's own size does not slow the
start), stdin, stdout and stderr on /dev/null, and waited for; the time is taken around spawn and
wait. Rounds are interleaved in a shuffled order, so that the noise of a shared machine (other
jobs, frequency changes) falls on every contender alike instead of on whichever ran last. A
non-zero exit status stops everything: a contender that fails is not measured.

Output (JSON on stdout): per contender, the median, quartiles and min in nanoseconds.
"""
import gc
import json
import os
import random
import statistics
import sys
import time


def main() -> None:
    spec = json.load(sys.stdin)
    runs, warmup, env = int(spec["runs"]), int(spec["warmup"]), spec["env"]
    contenders = spec["contenders"]
    null = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
    ]
    samples = {c["name"]: [] for c in contenders}
    rng = random.Random(6)
    order = list(contenders)
    gc.disable()
    clock = time.perf_counter_ns
    for r in range(warmup + runs):
        rng.shuffle(order)
        for c in order:
            argv = c["argv"]
            t0 = clock()
            pid = os.posix_spawn(argv[0], argv, env, file_actions=null)
            _, status = os.waitpid(pid, 0)
            t1 = clock()
            if status != 0:
                sys.exit(f"harness: {c['name']}: {argv[0]} exited with status {status:#x}")
            if r >= warmup:
                samples[c["name"]].append(t1 - t0)
    out = {}
    for name, s in samples.items():
        q = statistics.quantiles(s, n=4)
        out[name] = {"median": statistics.median(s), "q1": q[0], "q3": q[2], "min": min(s), "n": len(s)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
