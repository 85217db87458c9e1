"""Exporting a candidate on its own costs what the search's own end costs: its final training
plus its exports, no more.

    python bench/export_candidate.py [--size 16] [--epochs 1] [--final-epochs 3] [--json-out F]

One process, a tiny CPU search on scikit-learn's digits (demo_data.digits): the search's final
training (final.started to final.finished) and its write_outputs with the int8 files, the TFLM
check and the C array are timed; then export_candidate (the CLI's `export`) of the chosen
candidate and of another trained one, timed whole. Prints JSON: each time and the ratio
export / (search final + exports). Target: ratio <= 1.1 for the chosen candidate (the same
work; the margin is CPU noise on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 1.1


def main(argv: list[str] | None = None) -> int:
    from searchapp.nas.config import SearchConfig
    from searchapp.nas.demo_data import digits
    from searchapp.nas.export import write_outputs
    from searchapp.nas.export_candidate import export_candidate
    from searchapp.nas.search import run_search

    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--final-epochs", type=int, default=3)
    p.add_argument("--json-out")
    args = p.parse_args(argv)
    data = digits(size=args.size, classes=[0, 1, 2, 3])
    config = SearchConfig.from_dict(
        {"min_depth": 3, "max_depth": 4, "min_width": 8, "max_width": 16, "width_step": 8,
         "ops": ["sep"], "kernels": [3], "epochs": args.epochs, "folds": "1", "device": "cpu",
         "final_epochs": args.final_epochs}
    )  # fmt: skip
    marks: dict[str, float] = {}

    def on_event(e: dict) -> None:
        if e["type"] in ("final.started", "final.finished"):
            marks[e["type"]] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        result = run_search(data, config, on_event=on_event, work_dir=run_dir)
        t0 = time.perf_counter()
        write_outputs(result, data, run_dir, int8=True)
        search_exports = time.perf_counter() - t0
        search_final = marks["final.finished"] - marks["final.started"]
        run = json.loads((run_dir / "result.json").read_text())
        best = run["best"]["index"]
        other = next(c["index"] for c in run["candidates"] if c["index"] != best)
        timings = {}
        for name, index in (("chosen", best), ("other", other)):
            t0 = time.perf_counter()
            export_candidate(run, index, data, Path(tmp) / f"c{index}")
            timings[name] = time.perf_counter() - t0
    base = search_final + search_exports
    out = {
        "search_final_s": round(search_final, 3),
        "search_exports_s": round(search_exports, 3),
        "export_chosen_s": round(timings["chosen"], 3),
        "export_other_s": round(timings["other"], 3),
        "ratio_chosen": round(timings["chosen"] / base, 3),
        "ratio_other": round(timings["other"] / base, 3),
        "target_ratio": TARGET_RATIO,
        "ok": timings["chosen"] / base <= TARGET_RATIO,
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
