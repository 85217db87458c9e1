"""The paper's baselines: MobileNetV2 and EfficientNet-B0, trained like a candidate.

Built with torchvision's builders from random init (never downloaded weights). For 32x32
inputs the paper (§4.2.1, Table 5) turns the first two stride-2 layers of both networks into
stride 1: the stem conv and the first block of the 24-channel stage, so resolutions go
32 -> 32 -> 32 -> 16 -> 8 -> 8 -> 4 instead of 224 -> 112 -> 56 -> 28 -> 14 -> 14 -> 7.
Channels are unchanged. Inputs of 224 (Tiny-ImageNet upscaled, as in the paper) keep the
original strides.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import efficientnet_b0, mobilenet_v2

from .augment import Augment
from .data import ImageData
from .model import num_params
from .space import default_stem
from .train import (
    Cancelled,
    DeviceData,
    EpochCallback,
    Recipe,
    effective_batch,
    evaluate,
    resolve_device,
)

BASELINES = {
    "mobilenet_v2": mobilenet_v2,  # the paper's "M-Net"
    "efficientnet_b0": efficientnet_b0,  # the paper's "E-Net"
}
# Table 5: the first two stride-2 convs (stem, then the first block of stage "24") become 1.
SMALL_INPUT_STRIDE_ONE = 2


def small_input(image_size: int) -> bool:
    """Whether a net seeing ``image_size`` pixels gets Table 5's CIFAR strides (as our stems)."""
    return default_stem(image_size) == "cifar"


def strided_convs(model: nn.Module) -> list[str]:
    """Names of the convs with stride 2, in forward order."""
    return [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and tuple(m.stride) != (1, 1)
    ]


def build_baseline(name: str, num_classes: int, image_size: int) -> nn.Module:
    """Args: name: "mobilenet_v2" or "efficientnet_b0"; num_classes: head outputs;
    image_size: the side of the images the net will see (<= 64: Table 5 strides)."""
    if name not in BASELINES:
        raise ValueError(f"Unsupported baseline {name!r} (expected one of {', '.join(BASELINES)})")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    model = BASELINES[name](weights=None, num_classes=num_classes)
    if small_input(image_size):
        modules = dict(model.named_modules())
        for conv_name in strided_convs(model)[:SMALL_INPUT_STRIDE_ONE]:
            modules[conv_name].stride = (1, 1)  # 'same' padding: the size is kept
    return model


def count_macs(model: nn.Module, image_size: int, in_ch: int = 3) -> int:
    """Multiply-accumulates of one forward pass (convs and linear layers), by hooks."""
    total = 0

    def conv_hook(m: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += out.numel() * k  # out: (1, C, H, W)

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, in_ch, image_size, image_size, device=p.device, dtype=p.dtype))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return total


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def train_baseline(
    name: str,
    data: ImageData | DeviceData,
    recipe: Recipe,
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    image_size: int | None = None,
    keep_state: bool = False,
) -> dict:
    """Train a baseline from scratch with ``recipe`` (as train_candidate does a candidate).

    ``image_size`` is the side the net sees (None: the data's own; 224 to upscale Tiny-ImageNet
    as the paper does). Returns the metrics as a dict (``state_dict`` only with keep_state).
    """
    if name not in BASELINES:
        raise ValueError(f"Unsupported baseline {name!r} (expected one of {', '.join(BASELINES)})")
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    dd = data if isinstance(data, DeviceData) else DeviceData(data, dev)
    size = image_size or dd.image_size
    batch = effective_batch(recipe, len(dd.y_train))
    retries = 0
    while True:
        try:
            out = _train_once(
                name, dd, recipe, batch, seed, size, on_epoch, should_stop, keep_state
            )
            out["oom_retries"] = retries
            return out
        except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
            if not _is_oom(exc) or batch <= 1:
                raise
            retries += 1
            batch //= 2
            if dd.device.type == "cuda":
                torch.cuda.empty_cache()


def _train_once(
    name: str,
    dd: DeviceData,
    recipe: Recipe,
    batch: int,
    seed: int,
    size: int,
    on_epoch: EpochCallback | None,
    should_stop: Callable[[], bool] | None,
    keep_state: bool,
) -> dict:
    # Same loop as train._train_once, with a torchvision net in place of build_model(arch).
    dev = dd.device
    cuda = dev.type == "cuda"
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    model = build_baseline(name, dd.num_classes, size).to(dev)
    macs = count_macs(model, size, dd.in_ch)
    channels_last = recipe.channels_last and cuda
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    autocast = recipe.mixed_precision and cuda
    resize = size if size != dd.image_size else None
    aug = Augment(dd.mean, dd.std, pad=4, flip=True, resize_to=resize, channels_last=channels_last)

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

    def lr_at(step: int) -> float:
        if step < warmup:
            return lr * (step + 1) / warmup
        t = (step - warmup) / max(total_steps - warmup, 1)
        return 0.5 * lr * (1 + math.cos(math.pi * t))  # cosine to 0

    start = time.perf_counter()
    loss_curve: list[float] = []
    test_curve: list[float] = []
    train_acc = test_acc = 0.0
    status, step, full_streak, best_test, since_best, epochs_run = "ok", 0, 0, -1.0, 0, 0
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
            status, test_acc = "diverged", 0.0
            test_curve.append(test_acc)
            _report(on_epoch, epochs_run, recipe.epochs, mean_loss, train_acc, test_acc)
            break
        last = epochs_run == recipe.epochs
        if last or epochs_run % recipe.eval_every == 0 or recipe.plateau_patience:
            test_acc, _ = evaluate(
                model, dd.x_test, dd.y_test, aug, batch_size=256, autocast=autocast
            )
        test_curve.append(test_acc)
        _report(on_epoch, epochs_run, recipe.epochs, mean_loss, train_acc, test_acc)
        full_streak = full_streak + 1 if train_acc >= 100.0 else 0
        if recipe.stop_at_full_train_epochs and full_streak >= recipe.stop_at_full_train_epochs:
            break
        if test_acc > best_test + recipe.plateau_delta:
            best_test, since_best = test_acc, 0
        else:
            since_best += 1
        if recipe.plateau_patience and since_best >= recipe.plateau_patience:
            break
    if cuda:
        torch.cuda.synchronize()
    result = {
        "name": name,
        "train_acc": round(train_acc, 4),
        "test_acc": round(test_acc, 4),
        "loss_curve": [round(v, 6) if math.isfinite(v) else None for v in loss_curve],
        "test_curve": [round(v, 4) for v in test_curve],
        "epochs": epochs_run,
        "batch_size": batch,
        "seconds": round(time.perf_counter() - start, 3),
        "device": str(dev),
        "params": num_params(model),
        "macs": macs,
        "image_size": size,
        "strides": "cifar" if small_input(size) else "imagenet",
        "recipe": recipe.to_dict(),
        "seed": seed,
        "status": status,
    }
    if keep_state and status == "ok":
        result["state_dict"] = {
            k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
        }
    return result


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
