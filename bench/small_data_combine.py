"""Combine small_data.py results of one protocol run over different seeds.

    python bench/small_data_combine.py RESULT.json [RESULT.json ...] [--json-out F]
        [--rename RESULT.json:ARM=NEW ...]

Every file must hold the same protocol but for ``--seeds`` and ``--arms`` (files of other arms on
the same datasets and seeds join as more arms), and no (dataset, seed, arm) twice. ``--rename``
files one file's arm under another name, e.g. an ``evidence_auto`` run made when auto chose 3
folds as ``evidence_k3``; a name ``evidence_kN`` is refused unless every run of the arm in that
file trained N folds.
Prints one JSON object: ``summary`` with small_data.py's keys, computed over all the runs, plus,
for each evidence arm, the paired differences of final test accuracy against the paper arm
(same dataset and seed, at most 500 training images): their mean, standard deviation, number of
pairs and a 95% Student t-interval of the mean (``mean ± t(0.975, n-1) · sd / √n``, the pairs
taken as independent); ``per_dataset`` holds each dataset's and arm's figures as the docs'
table shows them.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit  # noqa: E402
from bench.small_data import _mean, _median, acc_differences, small_pairs, summarise  # noqa: E402


def t_two_sided(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    term = total = 1.0
    if df % 2 == 0:
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * c2
            total += term
        return math.sin(theta) * total
    if df == 1:
        return 2 * theta / math.pi
    for k in range(1, (df - 1) // 2):
        term *= (2 * k) / (2 * k + 1) * c2
        total += term
    return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)


def t_quantile(p: float, df: int) -> float:
    """The t with P(|T| < t) = p, by bisection."""
    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_two_sided(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def t_interval(xs: list[float], level: float = 0.95) -> list[float] | None:
    """Student t-interval of the mean of ``xs``."""
    if len(xs) < 2:
        return None
    m = statistics.fmean(xs)
    half = t_quantile(level, len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
    return [round(m - half, 3), round(m + half, 3)]


def parse_renames(specs: list[str]) -> dict[str, dict[str, str]]:
    """{file: {arm: new name}} from ``FILE:ARM=NEW`` strings; a malformed one exits."""
    out: dict[str, dict[str, str]] = {}
    for spec in specs:
        path, _, pair = spec.rpartition(":")
        old, _, new = pair.partition("=")
        if not (path and old and new):
            sys.exit(f"error: --rename {spec!r}: expected FILE:ARM=NEW")
        out.setdefault(path, {})[old] = new
    return out


def renamed(path: str, runs: list[dict], names: dict[str, str]) -> list[dict]:
    """``runs`` with the arms of ``names`` renamed; a fixed-K name must match the runs' folds."""
    out = []
    for r in runs:
        new = names.get(r["arm"])
        if new is None:
            out.append(r)
            continue
        k = new.removeprefix("evidence_k")
        if k.isdigit() and r.get("folds") != int(k):
            sys.exit(
                f"error: {path}: {r['arm']} of {r['dataset']} seed {r['seed']} trained "
                f"{r.get('folds')} folds, not {k}: cannot be {new}"
            )
        out.append({**r, "arm": new, "ran_as": r["arm"]})
    missing = set(names) - {r["arm"] for r in runs}
    if missing:
        sys.exit(f"error: {path}: no arm {sorted(missing)[0]!r} to rename")
    return out


def load(
    paths: list[str], renames: dict[str, dict[str, str]] | None = None
) -> tuple[dict, list[dict], list[dict]]:
    """(shared protocol with the seeds joined, all runs, one line per source file)."""
    protocol, runs, sources, seen = None, [], [], set()
    renames = renames or {}
    unknown = set(renames) - set(paths)
    if unknown:
        sys.exit(f"error: --rename names {sorted(unknown)[0]}, which is not among the results")
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
            this = dict(data["protocol"])
            seeds, arms = this.pop("seeds"), this.pop("arms")
            named = renamed(path, data["runs"], renames.get(path, {}))
            file_runs = [(r, (r["dataset"], r["seed"], r["arm"])) for r in named]
            arms = ",".join(renames.get(path, {}).get(a, a) for a in arms.split(","))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            sys.exit(f"error: {path}: not a small_data.py result ({e!r})")
        if protocol is None:
            protocol = this
        elif this != protocol:
            keys = sorted(
                k for k in this.keys() | protocol.keys() if this.get(k) != protocol.get(k)
            )
            sys.exit(f"error: {path}: protocol differs in {', '.join(keys)}")
        for r, key in file_runs:
            if key in seen:
                sys.exit(f"error: {path}: {key} appears in more than one file")
            seen.add(key)
            runs.append(r)
        sources.append(
            {"file": path, "seeds": seeds, "arms": arms, "machine": data.get("machine"),
             "torch": data.get("torch"), "wall_seconds": data.get("wall_seconds")}
        )  # fmt: skip
    seeds = ",".join(str(s) for s in sorted({r["seed"] for r in runs}))
    arms = ",".join(dict.fromkeys(r["arm"] for r in runs))
    return {**protocol, "seeds": seeds, "arms": arms}, runs, sources


def paired(runs: list[dict], arms: list[str]) -> dict:
    """Per evidence arm: the paired differences of final test accuracy against paper."""
    out: dict = {"interval_method": "Student t-interval over the paired differences, 95%"}
    for arm in (a for a in arms if a != "paper"):
        diffs = acc_differences(small_pairs(runs, arm))
        key = f"{arm}_minus_paper_final_test_acc_small"
        out[f"{key}_mean"] = _mean(diffs)
        out[f"{key}_sd"] = round(statistics.stdev(diffs), 3) if len(diffs) > 1 else None
        out[f"{key}_ci95"] = t_interval(diffs)
        out[f"{key}_pairs"] = len(diffs)
    return out


def per_dataset(runs: list[dict], arms: list[str]) -> list[dict]:
    """Per dataset and arm: median params and RAM, mean test and first, median width, sum time."""
    rows = []
    for name in sorted({r["dataset"] for r in runs}):
        for arm in arms:
            sel = [r for r in runs if r["dataset"] == name and r["arm"] == arm]
            if not sel:
                continue
            rows.append(
                {
                    "dataset": name,
                    "arm": arm,
                    "n_train": sel[0]["n_train"],
                    "runs": len(sel),
                    "median_params": _median([r["params"] for r in sel]),
                    "median_ram_kb": _median([r["ram_kb"] for r in sel]),
                    "mean_test_acc": _mean([r["test_acc"] for r in sel]),
                    "mean_first_candidate_test_acc": _mean(
                        [r["first_candidate_test_acc"] for r in sel]
                    ),
                    "median_interval_width": _median([r["interval_width"] for r in sel]),
                    "train_seconds": round(sum(r["train_seconds"] for r in sel), 1),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="small_data.py JSON files")
    p.add_argument("--json-out", default=None)
    p.add_argument("--rename", action="append", default=[], metavar="FILE:ARM=NEW")
    args = p.parse_args(argv)
    protocol, runs, sources = load(args.results, parse_renames(args.rename))
    arms = [a for a in protocol["arms"].split(",") if a]
    out = {
        "benchmark": "small_data_combined",
        "protocol": protocol,
        "sources": sources,
        "wall_seconds": round(sum(s["wall_seconds"] or 0 for s in sources), 1),
        "summary": summarise(runs, arms) | paired(runs, arms),
        "per_dataset": per_dataset(runs, arms),
    }
    return emit(out, args)


if __name__ == "__main__":
    main()
