"""What a device budget adds per candidate: figures (params, MACs, int8 RAM and flash) and the
budget check, computed from the architecture alone, without training (no torch imported).

    python bench/budget_speed.py [--random 5000] [--size 32] [--classes 10] [--target nano33ble]
                                 [--json-out F]

Candidates: every architecture of Algorithm 1's path shapes in the default space (each depth at
the widest width, each width at each depth, then every one-layer op and kernel change of those)
plus ``--random`` seeded random architectures of the space (depth 3-15, width 16-64 step 16,
any op and kernel per layer). For each: ``footprint.figures`` + ``Budget.over``, timed one by
one. Prints JSON: microseconds per candidate (mean, p50, p95, max; and CPU time), how many fit the target,
and the check of the whole space (``check_space``). Target: under 1 ms per candidate.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_US = 1000.0


def candidates(space, stem: str, n_random: int, seed: int = 0) -> list:
    from searchapp.nas.space import Arch

    out = []
    widths = [space.max_width, *space.widths_down()]
    for depth in range(space.min_depth, space.max_depth + 1):
        for width in widths:
            base = Arch.initial(depth, width, stem)
            out.append(base)
            for i in range(depth):
                out += [base.with_layer(i, op=op) for op in space.ops if op != "sep"]
                out += [base.with_layer(i, kernel=k) for k in space.kernels if k != 3]
    rng = random.Random(seed)
    for _ in range(n_random):
        depth = rng.randint(space.min_depth, space.max_depth)
        out.append(
            Arch(
                depth,
                rng.choice(widths),
                tuple(rng.choice(space.ops) for _ in range(depth)),
                tuple(rng.choice(space.kernels) for _ in range(depth)),
                stem,
            )
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--random", type=int, default=5000, help="random architectures on top")
    p.add_argument("--size", type=int, default=32, help="image size in px")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--target", default="nano33ble", help="device target of the budget")
    p.add_argument("--json-out", default=None, help="also write the JSON to this file")
    args = p.parse_args(argv)

    from searchapp.nas.budget import Budget
    from searchapp.nas.config import SearchConfig
    from searchapp.nas.footprint import figures
    from searchapp.nas.space import default_stem

    config = SearchConfig.from_dict({"target": args.target})
    budget = Budget.from_config(config)
    stem = default_stem(args.size)
    archs = candidates(config.space, stem, args.random)

    times, fits = [], 0
    cpu0 = time.process_time()
    for arch in archs:
        t0 = time.perf_counter()
        fig = figures(arch, 3, args.size, args.classes)
        over = budget.over(fig)
        times.append((time.perf_counter() - t0) * 1e6)
        fits += over is None
    cpu_us = (time.process_time() - cpu0) * 1e6 / len(archs)
    t0 = time.perf_counter()
    smallest = budget.check_space(config.space, 3, args.size, args.classes, stem)
    check_us = (time.perf_counter() - t0) * 1e6

    times.sort()
    out = {
        "candidates": len(archs),
        "image_size": args.size,
        "classes": args.classes,
        "stem": stem,
        "budget": budget.describe(),
        "fit": fits,
        "us_per_candidate": {
            "mean": round(statistics.fmean(times), 1),
            "p50": round(times[len(times) // 2], 1),
            "p95": round(times[int(len(times) * 0.95)], 1),
            "max": round(times[-1], 1),
        },
        # this process's CPU time per candidate: what it costs when other processes share
        # the cores (the wall-clock figures above include their time slices)
        "cpu_us_per_candidate": round(cpu_us, 1),
        "check_space_us": round(check_us, 1),
        "smallest": smallest.to_dict(),
        "target_us": TARGET_US,
        "passes": times[len(times) // 2] < TARGET_US and cpu_us < TARGET_US,
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
