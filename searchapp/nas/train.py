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
    batch = effective_batch(recipe, len(dd.y_train))
    retries = 0
    while True:
        try:
            res = _train_once(
                make_model,
                dd,
                recipe,
                batch,
                seed,
                resize_to,
                on_epoch,
                should_stop,
                keep_state,
                eval_batch,
            )
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


def _train_once(
    make_model: Callable[[], torch.nn.Module],
    dd: DeviceData,
    recipe: Recipe,
    batch: int,
    seed: int,
    resize_to: int | None,
    on_epoch: EpochCallback | None,
    should_stop: Callable[[], bool] | None,
    keep_state: bool,
    eval_batch: int,
) -> Result:
    dev = dd.device
    cuda = dev.type == "cuda"
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    model = make_model().to(dev)
    # channels_last pays on CUDA and on CPUs (oneDNN: 1.3-2.6x here). bf16 on a CPU pays only
    # with native bf16 and images of 32 px or more (1.1-1.8x); on 16 px ones it was 5x slower.
    channels_last = recipe.channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    side = resize_to or dd.image_size
    autocast = recipe.mixed_precision and (cuda or (cpu_has_bf16() and side >= 32))
    aug = Augment(
        dd.mean, dd.std, pad=4, flip=True, resize_to=resize_to, channels_last=channels_last
    )

    n = len(dd.y_train)
    steps_per_epoch = math.ceil(n / batch)
    total_steps = recipe.epochs * steps_per_epoch
    warmup = int(recipe.warmup_epochs * steps_per_epoch)
    lr = recipe.lr * batch / recipe.base_batch
    opt = torch.optim.SGD(
        model.parameters(),
        lr=lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )

    anneal: dict = {}  # set on a plateau: {"start": step, "steps": n, "lr": lr then, "end_epoch": e}

    def lr_at(step: int) -> float:
        if anneal:
            return anneal["lr"] * max(0.0, 1 - (step - anneal["start"]) / anneal["steps"])
        if step < warmup:
            return lr * (step + 1) / warmup
        t = (step - warmup) / max(total_steps - warmup, 1)
        return 0.5 * lr * (1 + math.cos(math.pi * t))  # cosine to 0

    start = time.perf_counter()
    loss_curve: list[float] = []
    test_curve: list[float] = []
    train_acc = test_acc = 0.0
    status, step, full_streak, best_test, since_best = "ok", 0, 0, -1.0, 0
    epochs_run = 0
    for epoch in range(recipe.epochs):
        if should_stop is not None and should_stop():
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
                g["lr"] = lr_at(step)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
                out = model(xb)
                loss = F.cross_entropy(out.float(), yb, label_smoothing=recipe.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.detach() * len(idx)
            correct += (out.detach().argmax(1) == yb).sum()
        epochs_run = epoch + 1
        mean_loss = (loss_sum / n).item()  # one sync per epoch
        train_acc = 100.0 * correct.item() / n
        loss_curve.append(mean_loss)
        if not math.isfinite(mean_loss):
            status = "diverged"
            test_acc = 0.0
            test_curve.append(test_acc)
            _report(on_epoch, epochs_run, recipe.epochs, mean_loss, train_acc, test_acc)
            break
        last = epochs_run == recipe.epochs
        if last or epochs_run % recipe.eval_every == 0 or recipe.plateau_patience:
            test_acc, _ = evaluate(
                model, dd.x_test, dd.y_test, aug, batch_size=eval_batch, autocast=autocast
            )
        test_curve.append(test_acc)
        _report(on_epoch, epochs_run, recipe.epochs, mean_loss, train_acc, test_acc)
        # early stopping (fast recipe): memorised the training set, or test accuracy flat
        full_streak = full_streak + 1 if train_acc >= 100.0 else 0
        if recipe.stop_at_full_train_epochs and full_streak >= recipe.stop_at_full_train_epochs:
            break
        if anneal:
            if epochs_run >= anneal["end_epoch"]:
                break
            continue
        if test_acc > best_test + recipe.plateau_delta:
            best_test, since_best = test_acc, 0
        else:
            since_best += 1
        if recipe.plateau_patience and since_best >= recipe.plateau_patience:
            left = recipe.epochs - epochs_run
            if left <= 0 or recipe.anneal_epochs <= 0:
                break
            n_epochs = min(recipe.anneal_epochs, left)
            anneal.update(
                start=step,
                steps=n_epochs * steps_per_epoch,
                lr=lr_at(step),
                end_epoch=epochs_run + n_epochs,
            )
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    state = None
    if keep_state and status == "ok":
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return Result(
        train_acc=round(train_acc, 4),
        test_acc=round(test_acc, 4),
        loss_curve=[round(v, 6) if math.isfinite(v) else None for v in loss_curve],
        test_curve=[round(v, 4) for v in test_curve],
        epochs=epochs_run,
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
