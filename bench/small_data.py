"""Decisions on small data: Algorithm 1's thresholds against the evidence rule, with folds.

    python bench/small_data.py [--data-dir ../shared/data] [--sizes 100,200,500,1000]
        [--seeds 0,1,2] [--datasets folders,npz] [--folders NAME,...]
        [--arms paper,evidence,evidence_auto]
        [--epochs E] [--max-depth D] [--image-size PX] [--device cpu|cuda] [--json-out F]

Datasets: every image folder in DATA_DIR (``train/<class>/*`` and ``test/<class>/*``) as it is,
and subsets cut from each ``.npz`` there: ``--sizes`` training images per class, drawn per seed
(each seed its own subset and its own search seed), tested on the npz's whole test split
(``--test-per-class`` caps it). ``--image-size`` rescales every image (16 px keeps a CPU run
short; blank: as stored).

Arms, each a whole search with selection on validation and the final training:
  paper          ``--rule paper --folds 1``: Algorithm 1's thresholds on point estimates
  evidence       ``--rule evidence --folds 1``: the evidence rule on the single validation split
  evidence_auto  ``--rule evidence --folds auto``: the evidence rule on out-of-fold scores
  evidence_k3    ``--rule evidence --folds 3`` (asked for by name): 3 folds at any size
  evidence_k5    ``--rule evidence --folds 5`` (asked for by name): 5 folds at any size

Per run: the chosen network's parameters and int8 RAM, the final model's test accuracy and
interval, the summed training time (candidates; final training apart), the decision intervals'
median width, and, per dataset and seed, the test accuracy of the first candidate (the initial
architecture) after the same final training, for reference. The summary holds what the targets
need, measured in this run: over datasets of at most 500 training images, the median ratio of
the evidence arms' parameters to the paper arm's and the mean difference of their final test
accuracies; at 400 training images, the median decision-interval width of K = 1 and of auto.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.common import emit  # noqa: E402
from searchapp.nas.config import SearchConfig  # noqa: E402
from searchapp.nas.data import ImageData, load_dataset, load_npz  # noqa: E402
from searchapp.nas.result import SearchResult  # noqa: E402
from searchapp.nas.search import Search, train_final  # noqa: E402

ARMS = {
    "paper": {"rule": "paper", "folds": "1"},
    "evidence": {"rule": "evidence", "folds": "1"},
    "evidence_auto": {"rule": "evidence", "folds": "auto"},
    "evidence_k3": {"rule": "evidence", "folds": "3"},  # not default arms: K at any size
    "evidence_k5": {"rule": "evidence", "folds": "5"},
}
DEFAULT_ARMS = "paper,evidence,evidence_auto"
SMALL = 500  # "small data": at most this many training images
AT = 400  # the training-set size the interval widths are compared at


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    p.add_argument("--datasets", default="folders,npz", help="folders, npz, or both")
    p.add_argument("--folders", default="", help="only these folder names (blank: every one)")
    p.add_argument("--sizes", default="100,200,500,1000", help="npz subsets: images per class")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--arms", default=DEFAULT_ARMS, help=f"of {', '.join(ARMS)}")
    p.add_argument("--test-per-class", type=int, default=None, help="cap the npz test split")
    p.add_argument("--image-size", type=int, default=None, help="rescale every image (px)")
    p.add_argument("--epochs", type=int, default=None, help="per candidate (blank: recipe's)")
    p.add_argument("--final-epochs", type=int, default=None, help="blank: 3x the epochs")
    p.add_argument("--min-depth", type=int, default=3)
    p.add_argument("--max-depth", type=int, default=5)
    p.add_argument("--min-width", type=int, default=16)
    p.add_argument("--max-width", type=int, default=64)
    p.add_argument("--width-step", type=int, default=16)
    p.add_argument("--kernels", default="3,5,7")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy CPU)")
    p.add_argument("--json-out", default=None)
    return p


# -- datasets ---------------------------------------------------------------------------------


def _rescale(x: np.ndarray, size: int | None) -> np.ndarray:
    if not size or x.shape[1] == size:
        return x
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float()
    t = torch.nn.functional.interpolate(t, size=(size, size), mode="area")
    return t.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _sized(data: ImageData, size: int | None, source: str) -> ImageData:
    return ImageData(
        _rescale(data.x_train, size),
        data.y_train,
        _rescale(data.x_test, size),
        data.y_test,
        list(data.classes),
        source=source,
    )


def _pick(y: np.ndarray, per_class: int | None, rng: np.random.Generator) -> np.ndarray:
    if per_class is None:
        return np.arange(len(y))
    idx = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    return np.sort(np.concatenate(idx))


def datasets(args, seed: int) -> list[tuple[str, ImageData]]:
    """(name, data) of every dataset of this seed."""
    root, kinds, out = Path(args.data_dir), args.datasets.split(","), []
    if "folders" in kinds:
        names = {n for n in args.folders.split(",") if n}
        for folder in sorted(p for p in root.iterdir() if (p / "train").is_dir()):
            if names and folder.name not in names:
                continue
            data = load_dataset(folder, seed=seed)
            out.append((folder.name, _sized(data, args.image_size, folder.name)))
    if "npz" in kinds:
        for npz in sorted(root.glob("*.npz")):
            full = load_npz(npz)
            for per_class in [int(s) for s in args.sizes.split(",") if s]:
                rng = np.random.default_rng([seed, per_class])
                tr, te = (
                    _pick(full.y_train, per_class, rng),
                    _pick(full.y_test, args.test_per_class, rng),
                )
                sub = ImageData(
                    full.x_train[tr], full.y_train[tr], full.x_test[te], full.y_test[te],
                    list(full.classes), source=npz.name,
                )  # fmt: skip
                out.append((f"{npz.stem}-{per_class}", _sized(sub, args.image_size, npz.name)))
    return out


# -- runs -------------------------------------------------------------------------------------


def settings(args, seed: int, arm: str) -> dict:
    kernels = [int(k) for k in args.kernels.split(",")]
    return {
        "min_depth": args.min_depth,
        "max_depth": args.max_depth,
        "min_width": args.min_width,
        "max_width": args.max_width,
        "width_step": args.width_step,
        "kernels": kernels,
        "epochs": args.epochs,
        "final_epochs": args.final_epochs,
        "seed": seed,
        "device": args.device,
        "select_on": "validation",
        **ARMS[arm],
    }


def _median(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 3) if xs else None


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(statistics.fmean(xs), 3) if xs else None


def run_arm(data: ImageData, config: SearchConfig) -> tuple[dict, Search, SearchResult]:
    """One whole search with its final training; the figures of the run."""
    search = Search(config, data=data)
    t0 = time.perf_counter()
    result = search.run()
    train_final(search, result)
    best, final = result.best, result.final or {}
    widths = [
        c["evidence"]["ci95"][1] - c["evidence"]["ci95"][0]
        for c in result.candidates
        if c.get("evidence") and not c["speculative"]
    ]
    return (
        {
            "folds": result.folds,
            "candidates": len(result.candidates),
            "params": best["params"],
            "ram_kb": best["ram_kb"],
            "arch": best["arch"],
            "val_acc": best.get("val_acc"),
            "test_acc": final.get("test_acc"),
            "test_ci95": final.get("test_ci95"),
            "train_seconds": round(result.train_seconds, 2),
            "final_seconds": final.get("seconds"),
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "interval_width": _median(widths),
            "decisions": len(widths),
            "steps": [  # what each candidate was and why it was or was not taken
                [c["index"], c["phase"], c["params"], c["accepted"], c["reason"]]
                for c in result.candidates
                if not c["speculative"]
            ],
        },
        search,
        result,
    )


def first_candidate_final(search: Search, result: SearchResult) -> float | None:
    """The initial architecture after the same final training: what no search gives."""
    first = SearchResult(candidates=[], best=result.candidates[0], config={}, dataset={})
    train_final(search, first)
    return (first.final or {}).get("test_acc")


def small_pairs(runs: list[dict], arm: str) -> list[tuple[dict, dict]]:
    """(run of ``arm``, paper run) on the same dataset and seed, at most SMALL training images."""
    by = {(r["dataset"], r["seed"], r["arm"]): r for r in runs}
    return [
        (r, by[(name, seed, "paper")])
        for (name, seed, a), r in by.items()
        if a == arm and (name, seed, "paper") in by and r["n_train"] <= SMALL
    ]


def acc_differences(pairs: list[tuple[dict, dict]]) -> list[float]:
    """Final test accuracy of each pair's run minus the paper run's (points)."""
    return [
        r["test_acc"] - paper["test_acc"]
        for r, paper in pairs
        if r["test_acc"] is not None and paper["test_acc"] is not None
    ]


def summarise(runs: list[dict], arms: list[str]) -> dict:
    """The targets' figures, each from pairs of runs on the same dataset and seed."""
    out: dict = {}
    for arm in (a for a in arms if a != "paper"):
        pairs = small_pairs(runs, arm)
        ratios = [r["params"] / paper["params"] for r, paper in pairs]
        diffs = acc_differences(pairs)
        out[f"{arm}_vs_paper_median_params_ratio_small"] = _median(ratios)
        out[f"{arm}_minus_paper_mean_final_test_acc_small"] = _mean(diffs)
        out[f"{arm}_vs_paper_pairs_small"] = len(ratios)
    for arm in arms:
        sel = [r for r in runs if r["arm"] == arm]
        out[f"{arm}_median_interval_width_at_{AT}"] = _median(
            [r["interval_width"] for r in sel if r["n_train"] == AT]
        )
        out[f"{arm}_mean_final_test_acc"] = _mean([r["test_acc"] for r in sel])
        out[f"{arm}_median_params"] = _median([r["params"] for r in sel])
        out[f"{arm}_train_seconds"] = round(sum(r["train_seconds"] for r in sel), 1)
    return out


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise SystemExit(f"small_data.py: unknown arm {unknown[0]!r} (arms: {', '.join(ARMS)})")
    runs: list[dict] = []
    t0 = time.perf_counter()
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name, data in datasets(args, seed):
            reference = None
            for arm in arms:
                config = SearchConfig.from_dict(settings(args, seed, arm))
                figures, search, result = run_arm(data, config)
                if reference is None:
                    reference = first_candidate_final(search, result)
                row = {"dataset": name, "seed": seed, "arm": arm, "n_train": len(data.y_train)}
                runs.append(row | figures | {"first_candidate_test_acc": reference})
                print(
                    f"{name} seed {seed} {arm}: K={figures['folds']} params {figures['params']:,}"
                    f" test {figures['test_acc']} train {figures['train_seconds']}s",
                    file=sys.stderr,
                )
    out = {
        "benchmark": "small_data",
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, device {args.device}",
        "torch": torch.__version__,
        "protocol": {k: v for k, v in vars(args).items() if k not in ("json_out",)},
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "summary": summarise(runs, arms),
        "runs": runs,
    }
    return emit(out, args)


if __name__ == "__main__":
    main()
