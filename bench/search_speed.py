"""One search, the same data, seed and settings, with 1, 2, 4 ... workers: wall time and speed-up.

    python bench/search_speed.py DATA --workers 1,2,4 [--epochs 3] [--max-depth 6] [--json-out F]

Each worker is a process training one candidate at a time (``--parallel N``: N candidates in
flight, Algorithm 1's decisions taken in order from the finished results). The CPU's threads
are split among the workers: 1 worker gets all of them, 2 workers half each, and so on
(``--threads-per-worker`` to fix it). The speed-up of each run is over the first one (1 worker
with all the threads).

Every run must end with the same final architecture and the same accepted candidates as the
sequential search with the same threads per worker, or the script fails (exit 1): on a CPU the
float sums of a training step depend on the thread count, so a network trained with 2 threads is
not bit-identical to one trained with 1, and on a 40-image validation split one image can swing
a decision. When no 1-worker run has a run's thread count, a 1-worker reference with that count
is added (reported, not part of the speed-up). The final training is skipped (it is the same
single network in every run). Prints one JSON object: per run the wall time, the summed
training time, the candidates trained (needed and speculative) and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.common import emit  # noqa: E402
from searchapp.nas.config import SearchConfig  # noqa: E402
from searchapp.nas.data import load_dataset  # noqa: E402
from searchapp.nas.search import Search  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="image folder, .zip or .npz")
    p.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    p.add_argument("--threads-per-worker", type=int, default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-depth", type=int, default=6)
    p.add_argument("--max-width", type=int, default=32)
    p.add_argument("--min-width", type=int, default=16)
    p.add_argument("--width-step", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json-out", default=None)
    return p


def run_once(data, settings: dict, workers: int, threads: int) -> dict:
    from searchapp.nas.executors import ProcessExecutor

    torch.set_num_threads(threads)
    config = SearchConfig.from_dict(settings | {"parallel": workers})
    make = None if workers == 1 else (lambda s: ProcessExecutor(s, workers, threads))
    search = Search(config, data=data, executor=make)
    t0 = time.perf_counter()
    result = search.run()
    wall = time.perf_counter() - t0
    needed = [c for c in result.candidates if not c["speculative"]]
    return {
        "workers": workers,
        "threads_per_worker": threads,
        "wall_seconds": round(wall, 2),
        "train_seconds": round(result.train_seconds, 2),
        "candidates": len(result.candidates),
        "needed": len(needed),
        "speculative": len(result.candidates) - len(needed),
        "best": result.best["arch"],
        "best_val_acc": result.best.get("val_acc"),
        "accepted": sorted(c["key"] for c in needed if c["accepted"]),
        "decisions": sorted((c["key"], c["accepted"], c["reason"]) for c in needed),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    cores = torch.get_num_threads()
    data = load_dataset(args.data, strict=True, seed=args.seed)
    settings = {
        "epochs": args.epochs,
        "max_depth": args.max_depth,
        "max_width": args.max_width,
        "min_width": args.min_width,
        "width_step": args.width_step,
        "seed": args.seed,
        "device": args.device,
        "final_epochs": 0,
    }
    runs = []
    for n in counts:
        threads = args.threads_per_worker or max(1, cores // n)
        runs.append(run_once(data, settings, n, threads))
        print(f"workers {n} x {threads} threads: {runs[-1]['wall_seconds']}s", file=sys.stderr)
    refs = {r["threads_per_worker"]: r for r in runs if r["workers"] == 1}
    for t in sorted({r["threads_per_worker"] for r in runs} - set(refs)):
        refs[t] = run_once(data, settings, 1, t) | {"reference_only": True}
        print(f"reference 1 x {t} threads: {refs[t]['wall_seconds']}s", file=sys.stderr)
    base = runs[0]
    same = True
    for r in [*runs, *(x for x in refs.values() if x.get("reference_only"))]:
        ref = refs[r["threads_per_worker"]]
        r["speedup"] = round(base["wall_seconds"] / r["wall_seconds"], 2)
        r["compared_with"] = f"1 worker x {ref['threads_per_worker']} threads"
        r["same_result"] = r["best"] == ref["best"] and r["decisions"] == ref["decisions"]
        same &= r["same_result"]
    extra = [x for x in refs.values() if x.get("reference_only")]
    out = {
        "data": str(args.data),
        "images": {"train": int(len(data.y_train)), "test": int(len(data.y_test))},
        "settings": settings,
        "cpu_threads": cores,
        "cpus": os.cpu_count(),
        "device": args.device,
        "runs": [{k: v for k, v in r.items() if k != "decisions"} for r in runs],
        "references": [{k: v for k, v in r.items() if k != "decisions"} for r in extra],
        "identical_architecture_and_accepted": same,
    }
    emit(out, args)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
