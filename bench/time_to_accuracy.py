"""Time to accuracy: the paper recipe vs the fast recipe, same Table-1 network, same data.

Both runs go through the engine's ``searchapp.nas.train.train_candidate`` (what a search does for
every candidate), on one copy of the data already on the device:

  paper - get_recipe("paper", epochs=N): SGD momentum 0.9, wd 3e-4, lr 0.025 cosine, batch 64, fp32
          (N defaults to 30; the paper's full schedule is --paper-epochs 300).
  fast  - get_recipe("fast"): batch 256 (smaller on small data), scaled lr, label smoothing, bf16 +
          channels_last on CUDA, early stop (train accuracy at 100% or test accuracy flat).

"seconds" is the engine's own training timer (Result.seconds): all epochs, including the per-epoch
test evaluation both recipes do, excluding model export and moving the data to the device. Prints
one JSON object: test accuracy, seconds, epochs run and batch size of each, and their ratio.

    python bench/time_to_accuracy.py ../shared/data/cifar10_airplane_automobile.npz --device cuda
    python bench/time_to_accuracy.py ../shared/data/cifar10-airplane-automobile-small \\
        --paper-epochs 5 --fast-epochs 5                     # a quick CPU check

DATA is an .npz (x_train, y_train, x_test, y_test, classes_json), an image folder or a zip of one.
Imports only torch, numpy, PIL and searchapp.nas (no Django).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo

from bench.common import add_output_options, emit, parse  # noqa: E402
from searchapp.nas.data import DataError, ImageData, load_dataset  # noqa: E402
from searchapp.nas.space import Arch, count_params  # noqa: E402
from searchapp.nas.train import (  # noqa: E402
    DeviceData,
    Recipe,
    get_recipe,
    resolve_device,
    train_candidate,
)

# ----------------------------------------------------------------------------- Hyperparameters

# The paper's Table-1 example network: 8 layers, width 32 (32/64/128 channels), 0.65M params.
TABLE1_OPS = ("sep", "conv") * 4
TABLE1_KERNELS = (5, 5, 3, 3, 5, 7, 7, 3)
TABLE1_DEPTH, TABLE1_WIDTH = 8, 32
PAPER_EPOCHS = 30  # the paper trains 300; 30 is where it has converged on the two-class npz
SEED = 0
WARMUP_IMAGES = 1024  # untimed one-epoch run of each recipe on this many images first (kernel init)


# ----------------------------------------------------------------------------- Runs


def table1_arch(image_size: int) -> Arch:
    """The Table-1 network; the stem follows the image size as the search picks it (<=64 px: cifar)."""
    stem = "cifar" if image_size <= 64 else "imagenet"
    return Arch(TABLE1_DEPTH, TABLE1_WIDTH, TABLE1_OPS, TABLE1_KERNELS, stem)


def warm_up(arch: Arch, data: ImageData, dev: torch.device, recipes: list[Recipe]) -> None:
    """One short untimed epoch of each recipe, so neither timed run pays for first-call set-up."""
    n = min(WARMUP_IMAGES, len(data.y_train))
    sub = ImageData(
        data.x_train[:n],
        data.y_train[:n],
        data.x_test[:n],
        data.y_test[:n],
        data.classes,
        source="warm-up",
    )
    try:
        dd = DeviceData(sub, dev)
    except DataError:  # a class missing from the first n images: use the whole set instead
        dd = DeviceData(data, dev)
    for r in recipes:
        train_candidate(arch, dd, replace(r, epochs=1), seed=SEED, device=dev, keep_state=False)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def run(arch: Arch, dd: DeviceData, recipe: Recipe, target: float | None) -> dict:
    """Train once with the engine; record accuracy, the engine's seconds, and a per-epoch timeline."""
    timeline: list[dict] = []
    start = time.perf_counter()

    def on_epoch(info: dict) -> None:  # called after each epoch's test evaluation
        timeline.append(
            {
                "epoch": info["epoch"],
                "s": round(time.perf_counter() - start, 3),
                "train_acc": info["train_acc"],
                "test_acc": info["test_acc"],
            }
        )

    res = train_candidate(
        arch, dd, recipe, seed=SEED, device=dd.device, on_epoch=on_epoch, keep_state=False
    )
    out = {
        "test_acc": res.test_acc,
        "best_test_acc": max(res.test_curve) if res.test_curve else None,
        "train_acc": res.train_acc,
        "seconds": res.seconds,
        "epochs_run": res.epochs,
        "epochs_max": recipe.epochs,
        "batch_size": res.batch_size,
        "seconds_per_epoch": round(res.seconds / max(res.epochs, 1), 3),
        "status": res.status,
        "oom_retries": res.oom_retries,
        "recipe": recipe.to_dict(),
        "timeline": timeline,
    }
    if target is not None:
        hit = next((t for t in timeline if t["test_acc"] >= target), None)
        out["target_reached"] = hit
    return out


# ----------------------------------------------------------------------------- Main


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "data", help="an .npz, an image folder (train/<class>/*, test/<class>/*) or a zip"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument(
        "--paper-epochs",
        type=int,
        default=PAPER_EPOCHS,
        help=f"epochs of the paper recipe (default {PAPER_EPOCHS}; the paper uses 300)",
    )
    p.add_argument(
        "--fast-epochs",
        type=int,
        default=None,
        help="epoch budget of the fast recipe (default: the recipe's own, 30)",
    )
    p.add_argument(
        "--target",
        type=float,
        default=None,
        help="also report when each run first reached this test accuracy (percent)",
    )
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up epochs")
    add_output_options(p)
    args = parse(p, argv)

    try:
        dev = resolve_device(args.device)
        data = load_dataset(args.data)
        paper = get_recipe("paper", epochs=args.paper_epochs)
        fast = get_recipe("fast", epochs=args.fast_epochs)
    except (ValueError, DataError) as exc:
        p.exit(2, f"time_to_accuracy: {exc}\n")
    arch = table1_arch(data.image_size)
    dd = DeviceData(data, dev)  # one device copy for both runs; not inside either timer

    s = data.summary()
    print(
        f"time_to_accuracy: {dev}, {s['train']} train / {s['test']} test, {s['num_classes']} classes, "
        f"{s['image_size']} px, {arch.short}",
        file=sys.stderr,
    )
    if not args.no_warmup:
        warm_up(arch, data, dev, [paper, fast])
    results = {}
    for name, recipe in (("paper", paper), ("fast", fast)):
        results[name] = run(arch, dd, recipe, args.target)
        r = results[name]
        print(
            f"  {name:5s}: {r['test_acc']:.2f}% test in {r['seconds']:.1f} s, "
            f"{r['epochs_run']}/{r['epochs_max']} epochs, batch {r['batch_size']}",
            file=sys.stderr,
        )

    out = {
        "device": str(dev),
        "torch_version": torch.__version__,
        "gpu_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "cpu_threads": torch.get_num_threads(),
        # above 1 per core: other jobs shared the CPUs and slowed this run
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "data": {
            k: s[k] for k in ("source", "train", "test", "num_classes", "classes", "image_size")
        },
        "arch": arch.to_dict(),
        "params": count_params(arch, 3, data.num_classes),
        "warmup": not args.no_warmup,
        "paper": results["paper"],
        "fast": results["fast"],
        "seconds_ratio_paper_over_fast": round(
            results["paper"]["seconds"] / results["fast"]["seconds"], 2
        ),
        "test_acc_fast_minus_paper": round(
            results["fast"]["test_acc"] - results["paper"]["test_acc"], 2
        ),
    }
    return emit(out, args)


if __name__ == "__main__":
    main()
