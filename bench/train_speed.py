"""Training throughput of the paper's Table-1 network: conventional pipeline vs the fast engine path.

One run, same model, same synthetic data, two pipelines:

  (a) conventional - the paper's setting, as DARTS-style code does it: uint8 images turned into PIL
      images in a torch Dataset, torchvision transforms (RandomCrop(32, padding=4),
      RandomHorizontalFlip, ToTensor, Normalize) in a DataLoader, fp32, batch 64, SGD momentum 0.9.
  (b) fast - the engine itself: ``searchapp.nas.train.train_candidate`` with the "fast" recipe
      (data resident on the device as uint8, batched on-device augmentation, batch 256, bf16
      autocast and channels_last as the engine applies them per device). Its timer includes one
      evaluation on the test set per epoch (the engine's fast recipe evaluates every epoch); the
      test set is kept small (--test-frac of N).

Prints one JSON object with images/s of each pipeline and their ratio (fast / conventional).

    python bench/train_speed.py                    # CPU defaults: 2048 images, 1 epoch
    python bench/train_speed.py --device cuda      # GPU defaults: 20000 images, 3 epochs

Imports only torch, torchvision, numpy, PIL and searchapp.nas (no Django), so it runs on a bare GPU box
with ``PYTHONPATH=<repo root>``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo

from bench.common import add_output_options, emit, parse  # noqa: E402
from searchapp.nas import train as nas_train  # noqa: E402
from searchapp.nas.data import ImageData  # noqa: E402
from searchapp.nas.model import build_model, num_params  # noqa: E402
from searchapp.nas.space import Arch  # noqa: E402
from searchapp.nas.train import DeviceData, get_recipe, resolve_device, train_candidate  # noqa: E402

# ----------------------------------------------------------------------------- Hyperparameters

# The paper's Table-1 example network: 8 layers, width 32 (32/64/128 channels), cifar stem, 0.65M params.
TABLE1_ARCH = Arch(8, 32, ("sep", "conv") * 4, (5, 5, 3, 3, 5, 7, 7, 3), "cifar")
IMAGE_SIZE = 32
NUM_CLASSES = 10
SEED = 0

# (a) conventional pipeline: the paper's training setting (§4.3)
CONV_BATCH = 64
CONV_LR = 0.025
CONV_MOMENTUM = 0.9
CONV_WEIGHT_DECAY = 3e-4

# (b) fast pipeline: the engine's "fast" recipe, batch given explicitly
FAST_BATCH = 256

# sizes per device: (images, epochs); CPU small enough for ~1-2 minutes on 2 cores
DEFAULTS = {"cpu": (2048, 1), "cuda": (20000, 3)}
TEST_FRAC = 0.1  # test set of the fast pipeline, as a fraction of N (evaluated once per epoch)
WARMUP_IMAGES = 1280  # untimed warm-up per pipeline: 20 batches of 64, or a 5-step engine epoch


# ----------------------------------------------------------------------------- Data


def synthetic_data(n_train: int, n_test: int, seed: int = SEED) -> ImageData:
    """Seeded random uint8 32x32 RGB images with random labels (throughput only, not accuracy)."""
    rng = np.random.default_rng(seed)

    def images(n: int) -> np.ndarray:
        return rng.integers(0, 256, size=(n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)

    def labels(n: int) -> np.ndarray:
        # every class present (ImageData refuses an empty class), then shuffled
        y = np.arange(n, dtype=np.int64) % NUM_CLASSES
        rng.shuffle(y)
        return y

    return ImageData(
        images(n_train),
        labels(n_train),
        images(n_test),
        labels(n_test),
        [f"class{i}" for i in range(NUM_CLASSES)],
        source="synthetic",
    )


class PILDataset(torch.utils.data.Dataset):
    """Like torchvision.datasets.CIFAR10: uint8 HWC arrays, a PIL image per item, then transforms."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform: transforms.Compose):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def conventional_loader(
    data: ImageData, workers: int, pin_memory: bool
) -> torch.utils.data.DataLoader:
    mean = (data.x_train.reshape(-1, 3).mean(0) / 255.0).tolist()
    std = (data.x_train.reshape(-1, 3).std(0) / 255.0).tolist()
    tf = transforms.Compose(
        [
            transforms.RandomCrop(IMAGE_SIZE, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    return torch.utils.data.DataLoader(
        PILDataset(data.x_train, data.y_train, tf),
        batch_size=CONV_BATCH,
        shuffle=True,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,  # worker start-up is paid once, in the warm-up
        drop_last=False,
    )


# ----------------------------------------------------------------------------- Pipelines


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def run_conventional(data: ImageData, dev: torch.device, epochs: int, workers: int) -> dict:
    """Warm up for a few batches, then time ``epochs`` full epochs of the fp32 batch-64 loop."""
    torch.manual_seed(SEED)
    cuda = dev.type == "cuda"
    loader = conventional_loader(data, workers, pin_memory=cuda)
    model = build_model(TABLE1_ARCH, 3, NUM_CLASSES).to(dev)
    opt = torch.optim.SGD(
        model.parameters(), lr=CONV_LR, momentum=CONV_MOMENTUM, weight_decay=CONV_WEIGHT_DECAY
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs + 1)  # per epoch, as DARTS

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    # warm-up: a short untimed epoch (cudnn/kernel init, DataLoader workers start)
    model.train()
    for i, (x, y) in enumerate(loader):
        step(x, y)
        if (i + 1) * CONV_BATCH >= WARMUP_IMAGES:
            break
    sched.step()
    sync(dev)

    # timed: no per-step host sync (loss summed on the device), one read per epoch
    start = time.perf_counter()
    for _ in range(epochs):
        loss_sum = torch.zeros((), device=dev)
        for x, y in loader:
            loss_sum += step(x, y) * len(y)
        sched.step()
        _ = (loss_sum / len(data.y_train)).item()
    sync(dev)
    seconds = time.perf_counter() - start
    images = epochs * len(data.y_train)
    return {
        "images_per_s": images / seconds,
        "seconds": seconds,
        "epochs": epochs,
        "images": images,
        "batch_size": CONV_BATCH,
        "num_workers": workers,
    }


def run_fast(data: ImageData, dev: torch.device, epochs: int) -> dict:
    """The engine's own training loop (train_candidate, "fast" recipe, batch 256), after a warm-up."""
    dd = DeviceData(data, dev)  # data to the device once, as the search does for every candidate
    recipe = get_recipe("fast", epochs=epochs, batch_size=FAST_BATCH)

    # warm-up: one untimed short epoch of the same engine code on a subset
    n_warm = min(WARMUP_IMAGES, len(data.y_train))
    warm = ImageData(
        data.x_train[:n_warm],
        data.y_train[:n_warm],
        data.x_test,
        data.y_test,
        data.classes,
        source="warm-up",
    )
    train_candidate(
        TABLE1_ARCH,
        DeviceData(warm, dev),
        get_recipe("fast", epochs=1, batch_size=FAST_BATCH),
        seed=SEED,
        device=dev,
        keep_state=False,
    )
    sync(dev)

    res = train_candidate(TABLE1_ARCH, dd, recipe, seed=SEED, device=dev, keep_state=False)
    images = res.epochs * len(data.y_train)  # res.epochs: early stops would shorten the run
    return {
        "images_per_s": images / res.seconds,
        "seconds": res.seconds,
        "epochs": res.epochs,
        "images": images,
        "batch_size": res.batch_size,
        "test_images_per_epoch": len(data.y_test),
        "recipe": recipe.to_dict(),
        "train_acc": res.train_acc,
        "status": res.status,
    }


# ----------------------------------------------------------------------------- Main


def cpu_bf16() -> bool | None:
    """The engine's own "does this CPU do bf16 natively" answer, where the engine has one."""
    fn = getattr(nas_train, "cpu_has_bf16", None)
    return bool(fn()) if fn is not None else None


def default_workers(dev: torch.device) -> int:
    cpus = os.cpu_count() or 1
    return min(4, cpus) if dev.type == "cuda" else 0  # on CPU the workers would steal compute cores


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument(
        "--images", type=int, default=None, help="training images N (cpu 2048, cuda 20000)"
    )
    p.add_argument(
        "--epochs", type=int, default=None, help="timed epochs per pipeline (cpu 1, cuda 3)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="DataLoader workers of the conventional pipeline (cuda: min(4, cpus); cpu: 0)",
    )
    p.add_argument(
        "--test-frac",
        type=float,
        default=TEST_FRAC,
        help="test set of the fast pipeline as a fraction of N (evaluated every epoch)",
    )
    p.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        help="set torch.backends.cudnn.benchmark for both pipelines (the engine does not)",
    )
    add_output_options(p)
    args = parse(p, argv)

    dev = resolve_device(args.device)
    n_default, e_default = DEFAULTS["cuda" if dev.type == "cuda" else "cpu"]
    n = args.images or n_default
    epochs = args.epochs or e_default
    workers = default_workers(dev) if args.workers is None else args.workers
    if n < 2 * NUM_CLASSES or epochs < 1:
        p.error(f"need --images >= {2 * NUM_CLASSES} and --epochs >= 1")
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    n_test = max(NUM_CLASSES, math.ceil(args.test_frac * n))
    data = synthetic_data(n, n_test)

    print(
        f"train_speed: {dev}, N={n}, epochs={epochs}, conventional workers={workers}",
        file=sys.stderr,
    )
    conv = run_conventional(data, dev, epochs, workers)
    print(f"  conventional: {conv['images_per_s']:.0f} images/s", file=sys.stderr)
    fast = run_fast(data, dev, epochs)
    print(f"  fast:         {fast['images_per_s']:.0f} images/s", file=sys.stderr)

    out = {
        "device": str(dev),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "gpu_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "cpu_threads": torch.get_num_threads(),
        # above 1 per core: other jobs shared the CPUs and slowed this run
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "arch": TABLE1_ARCH.short,
        "params": num_params(build_model(TABLE1_ARCH, 3, NUM_CLASSES)),
        "conventional_images_per_s": round(conv["images_per_s"], 1),
        "fast_images_per_s": round(fast["images_per_s"], 1),
        "speedup": round(fast["images_per_s"] / conv["images_per_s"], 2),
        "conventional_batch_size": conv["batch_size"],
        "fast_batch_size": fast["batch_size"],
        "settings": {
            "images": n,
            "test_images": n_test,
            "epochs": epochs,
            "image_size": IMAGE_SIZE,
            "num_classes": NUM_CLASSES,
            "data": "synthetic random uint8, seeded",
            "cudnn_benchmark": args.cudnn_benchmark,
            "conventional": {k: v for k, v in conv.items() if k != "images_per_s"}
            | {
                "pipeline": "PIL + torchvision transforms in DataLoader, fp32, SGD m0.9",
                "pin_memory": dev.type == "cuda",
            },
            "fast": {k: v for k, v in fast.items() if k != "images_per_s"}
            | {
                "pipeline": "searchapp.nas.train.train_candidate, fast recipe",
                "timer_includes_eval": True,
                # the recipe asks for bf16 + channels_last; the engine decides per device
                "cpu_has_bf16": cpu_bf16(),
            },
        },
    }
    return emit(out, args)


if __name__ == "__main__":
    main()
