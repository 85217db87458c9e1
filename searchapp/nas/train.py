"""Train one candidate from scratch: the paper's recipe and a fast on-device recipe.

Both recipes train the same model with SGD + cosine decay; "fast" keeps the whole dataset on
the device as uint8, augments in batches there, uses bf16 autocast + channels_last on CUDA,
a larger batch with linearly scaled lr, label smoothing, and stops early.
"""

from __future__ import annotations

import functools
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .augment import Augment, channel_stats
from .config import RECIPES, Cancelled, Recipe, get_recipe  # noqa: F401 - re-exported
from .data import ImageData
from .model import build_model, num_params
from .schedule import EarlyStop, Schedule
from .space import IMAGENET_STEM_INPUT, Arch, count_macs


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks CUDA when present. Only called inside the process that trains."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"unknown device {device!r} (expected auto, cpu or cuda)")
    return torch.device(device)


# ----------------------------------------------------------------------------- Results


@dataclass
class Result:
    """What training one candidate produced."""

    train_acc: float
    test_acc: float
    loss_curve: list[float]
    test_curve: list[float]
    epochs: int
    batch_size: int
    seconds: float
    device: str
    params: int
    macs: int
    status: str = "ok"  # ok | diverged
    oom_retries: int = 0
    state_dict: dict | None = field(default=None, repr=False)

    def metrics(self) -> dict:
        d = asdict(self)
        d.pop("state_dict")
        return d


EpochCallback = Callable[[dict], None]


class DeviceData:
    """The dataset as uint8 (N, C, H, W) tensors on the training device, plus its statistics."""

    def __init__(self, data: ImageData, device: torch.device):
        def to_dev(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)

        self.device = device
        self.x_train, self.x_test = to_dev(data.x_train), to_dev(data.x_test)
        self.y_train = torch.from_numpy(data.y_train).long().to(device)
        self.y_test = torch.from_numpy(data.y_test).long().to(device)
        self.mean, self.std = channel_stats(self.x_train)
        self.num_classes = data.num_classes
        self.image_size = data.image_size
        self.in_ch = int(self.x_train.shape[1])


def candidate_seed(seed: int, arch: Arch) -> int:
    """A per-candidate seed that depends only on the search seed and the architecture."""
    return zlib.crc32(f"{seed}:{arch.key}".encode()) & 0x7FFFFFFF


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def effective_batch(recipe: Recipe, n_train: int) -> int:
    """Recipe batch, reduced for small datasets so an epoch has at least ~12 steps."""
    b = recipe.batch_size
    if recipe.adaptive_batch:
        cap = max(8, 2 ** int(math.log2(max(n_train // 12, 1))))
        b = min(b, cap)
    return max(1, min(b, n_train))


# ----------------------------------------------------------------------------- Train and Eval


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    aug: Augment,
    batch_size: int = 1024,
    autocast: bool = False,
) -> tuple[float, float]:
    """Accuracy (percent) and mean loss on uint8 images x, in eval mode (one sync at the end)."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    loss_sum = torch.zeros((), dtype=torch.float32, device=x.device)
    for i in range(0, len(x), batch_size):
        xb = aug(x[i : i + batch_size], train=False)
        yb = y[i : i + batch_size]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            out = model(xb)
        loss_sum += F.cross_entropy(out.float(), yb, reduction="sum")
        correct += (out.argmax(1) == yb).sum()
    n = max(len(x), 1)
    return 100.0 * correct.item() / n, loss_sum.item() / n


def train_candidate(
    arch: Arch,
    data: ImageData | DeviceData,
    recipe: Recipe,
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    keep_state: bool = True,
) -> Result:
    """Train ``arch`` from scratch on ``data``; halve the batch and retry on CUDA OOM."""
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    dd = data if isinstance(data, DeviceData) else DeviceData(data, dev)
    return train_model(
        lambda: build_model(arch, dd.in_ch, dd.num_classes),
        dd,
        recipe,
        seed=seed,
        resize_to=IMAGENET_STEM_INPUT if arch.stem == "imagenet" else None,
        macs=count_macs(arch, dd.in_ch, dd.image_size, dd.num_classes),
        on_epoch=on_epoch,
        should_stop=should_stop,
        keep_state=keep_state,
    )


@dataclass(frozen=True)
class RunOptions:
    """Everything one training run takes besides the model, the data, the recipe and the batch."""

    seed: int = 0
    resize_to: int | None = None
    on_epoch: EpochCallback | None = None
    should_stop: Callable[[], bool] | None = None
    keep_state: bool = True
    eval_batch: int = 1024


def train_model(
    make_model: Callable[[], torch.nn.Module],
    dd: DeviceData,
    recipe: Recipe,
    *,
    seed: int = 0,
    resize_to: int | None = None,
    macs: int = 0,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    keep_state: bool = True,
    eval_batch: int = 1024,
) -> Result:
    """Train the network ``make_model()`` builds (a candidate or a baseline) with ``recipe``.

    On CUDA out-of-memory the batch is halved and training restarts from scratch.
    """
    opts = RunOptions(seed, resize_to, on_epoch, should_stop, keep_state, eval_batch)
    batch = effective_batch(recipe, len(dd.y_train))
    retries = 0
    while True:
        try:
            res = _train_once(make_model, dd, recipe, batch, opts)
            res.macs, res.oom_retries = macs, retries
            return res
        except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
            if not _is_oom(exc) or batch <= 1:
                raise
            retries += 1
            batch //= 2
            if dd.device.type == "cuda":
                torch.cuda.empty_cache()


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 / AMX); else bf16 is emulated, slow."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _setup(
    make_model: Callable[[], torch.nn.Module], dd: DeviceData, recipe: Recipe, resize_to: int | None
) -> tuple[torch.nn.Module, Augment, bool]:
    """The model on the device, its batch augmentation, and whether to autocast to bf16."""
    model = make_model().to(dd.device)
    # channels_last pays on CUDA and on CPUs (oneDNN: 1.3-2.6x here). bf16 on a CPU pays only
    # with native bf16 and images of 32 px or more (1.1-1.8x); on 16 px ones it was 5x slower.
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)
    side = resize_to or dd.image_size
    cuda = dd.device.type == "cuda"
    autocast = recipe.mixed_precision and (cuda or (cpu_has_bf16() and side >= 32))
    aug = Augment(
        dd.mean, dd.std, pad=4, flip=True, resize_to=resize_to, channels_last=recipe.channels_last
    )
    return model, aug, autocast


def _train_once(
    make_model: Callable[[], torch.nn.Module],
    dd: DeviceData,
    recipe: Recipe,
    batch: int,
    opts: RunOptions,
) -> Result:
    """One run at ``batch``: the lr of each step from the schedule, the end from the rule."""
    dev = dd.device
    torch.manual_seed(opts.seed)
    gen = torch.Generator(device=dev)
    gen.manual_seed(opts.seed)
    model, aug, autocast = _setup(make_model, dd, recipe, opts.resize_to)
    n = len(dd.y_train)
    steps_per_epoch = math.ceil(n / batch)
    schedule = Schedule(recipe, batch, steps_per_epoch)
    early_stop = EarlyStop(recipe, schedule, steps_per_epoch)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=schedule.peak,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )

    start = time.perf_counter()
    loss_curve: list[float] = []
    test_curve: list[float] = []
    train_acc = test_acc = 0.0
    status, step, epoch = "ok", 0, 0
    for epoch in range(1, recipe.epochs + 1):
        if opts.should_stop is not None and opts.should_stop():
            raise Cancelled()
        model.train()
        perm = torch.randperm(n, device=dev, generator=gen)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            xb = aug(dd.x_train[idx], train=True, generator=gen)
            yb = dd.y_train[idx]
            for g in opt.param_groups:
                g["lr"] = schedule.lr(step)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
                out = model(xb)
                loss = F.cross_entropy(out.float(), yb, label_smoothing=recipe.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.detach() * len(idx)
            correct += (out.detach().argmax(1) == yb).sum()
        mean_loss = (loss_sum / n).item()  # one sync per epoch
        train_acc = 100.0 * correct.item() / n
        loss_curve.append(mean_loss)
        if not math.isfinite(mean_loss):
            status, test_acc = "diverged", 0.0
        elif epoch == recipe.epochs or epoch % recipe.eval_every == 0 or recipe.plateau_patience:
            test_acc, _ = evaluate(
                model, dd.x_test, dd.y_test, aug, batch_size=opts.eval_batch, autocast=autocast
            )
        test_curve.append(test_acc)
        _report(opts.on_epoch, epoch, recipe.epochs, mean_loss, train_acc, test_acc)
        if status == "diverged" or early_stop.done(epoch, step, train_acc, test_acc):
            break
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    state = None
    if opts.keep_state and status == "ok":
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return Result(
        train_acc=round(train_acc, 4),
        test_acc=round(test_acc, 4),
        loss_curve=[round(v, 6) if math.isfinite(v) else None for v in loss_curve],
        test_curve=[round(v, 4) for v in test_curve],
        epochs=epoch,
        batch_size=batch,
        seconds=round(seconds, 3),
        device=str(dev),
        params=num_params(model),
        macs=0,
        status=status,
        state_dict=state,
    )


def _report(cb, epoch, epochs, loss, train_acc, test_acc) -> None:
    if cb is not None:
        cb(
            {
                "epoch": epoch,
                "epochs": epochs,
                "loss": round(loss, 6) if math.isfinite(loss) else None,
                "train_acc": round(train_acc, 4),
                "test_acc": round(test_acc, 4),
            }
        )
