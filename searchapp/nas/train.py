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
from dataclasses import asdict, dataclass, field, make_dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .augment import Augment, channel_stats
from .config import Cancelled, Recipe, get_recipe  # noqa: F401 - re-exported
from .data import ImageData
from .evidence import encode_hits
from .lr_schedule import EarlyStop, Schedule
from .model import build_model, num_params
from .record import trained_fields
from .scoring import evaluate, predict, score  # noqa: F401 - predict re-exported
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


def _metrics(self) -> dict:
    """The measured figures as a plain dict: everything but the weights."""
    d = asdict(self)
    d.pop("state_dict")
    return d


# The record's TRAINED fields (names, types, defaults) are not repeated here: record.py
# defines them once, and a test checks that the two agree.
Result = make_dataclass(
    "Result",
    [
        *trained_fields(),
        ("params", int, 0),
        ("macs", int, 0),
        ("state_dict", "dict | None", field(default=None, repr=False)),
    ],
    namespace={"__module__": __name__, "metrics": _metrics},
)
Result.__doc__ = """What training one candidate produced: the candidate record's TRAINED fields,
its size (``params``, ``macs``) and its weights (``state_dict``, None unless kept and ok).

``test_acc`` is scored once, after training. ``val_acc`` (None without a validation split)
likewise; the per-class lists are in class order. ``val_curve`` / ``test_curve`` hold the
selection split's accuracy per epoch (the one early stopping read); the other stays empty.
"""


EpochCallback = Callable[[dict], None]


class DeviceData:
    """The dataset as uint8 (N, C, H, W) tensors on the training device, plus its statistics.

    With ``val_idx`` (indices into the training images) those images are the validation split
    and only ``train_idx`` are trained on. ``select`` names the split that early stopping reads
    each epoch: "val", "test" (the paper's way) or "none" (no per-epoch evaluation: final
    training on all the training images, which must not peek at test)."""

    def __init__(
        self,
        data: ImageData,
        device: torch.device,
        *,
        train_idx: np.ndarray | None = None,
        val_idx: np.ndarray | None = None,
        select: str | None = None,
    ):
        def to_dev(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)

        def labels(y: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(y)).long().to(device)

        self.device = device
        x_tr, y_tr = data.x_train, data.y_train
        self.x_val = self.y_val = None
        if val_idx is not None:
            self.x_val, self.y_val = to_dev(x_tr[val_idx]), labels(y_tr[val_idx])
        if train_idx is not None:
            x_tr, y_tr = x_tr[train_idx], y_tr[train_idx]
        self.x_train, self.x_test = to_dev(x_tr), to_dev(data.x_test)
        self.y_train = labels(y_tr)
        self.y_test = labels(data.y_test)
        self.select = select or ("val" if self.x_val is not None else "test")
        self.mean, self.std = channel_stats(self.x_train)
        self.num_classes = data.num_classes
        self.image_size = data.image_size
        self.in_ch = int(self.x_train.shape[1])

    def fold(self, train_idx: np.ndarray, val_idx: np.ndarray) -> DeviceData:
        """One cross-validation fold of these training images, gathered on the device: it
        trains on ``train_idx`` and validates (early stop, scores) on ``val_idx``; same test."""
        view = object.__new__(DeviceData)
        view.__dict__.update(self.__dict__)
        tr = torch.from_numpy(np.asarray(train_idx)).to(self.device)
        va = torch.from_numpy(np.asarray(val_idx)).to(self.device)
        view.x_train, view.y_train = self.x_train[tr], self.y_train[tr]
        view.x_val, view.y_val = self.x_train[va], self.y_train[va]
        view.select = "val"
        view.mean, view.std = channel_stats(view.x_train)
        return view


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


# ----------------------------------------------------------------------------- Train


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
    steps_per_epoch = math.ceil(len(dd.y_train) / batch)
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
    sel_curve: list[float] = []  # the selection split's accuracy per epoch
    x_sel, y_sel = {"val": (dd.x_val, dd.y_val), "test": (dd.x_test, dd.y_test)}.get(
        dd.select, (None, None)
    )
    train_acc = sel_acc = 0.0
    status, step, epoch = "ok", 0, 0
    for epoch in range(1, recipe.epochs + 1):
        if opts.should_stop is not None and opts.should_stop():
            raise Cancelled()
        mean_loss, train_acc, step = _train_epoch(
            model, opt, dd, aug, schedule, step, batch, gen, autocast, recipe.label_smoothing
        )
        loss_curve.append(mean_loss)
        if not math.isfinite(mean_loss):
            status, sel_acc = "diverged", 0.0
        elif x_sel is not None and (
            epoch == recipe.epochs or epoch % recipe.eval_every == 0 or recipe.plateau_patience
        ):
            sel_acc, _ = evaluate(
                model, x_sel, y_sel, aug, batch_size=opts.eval_batch, autocast=autocast
            )
        if x_sel is not None:
            sel_curve.append(sel_acc)
        accs = {dd.select: sel_acc} if x_sel is not None else {}
        _report(opts.on_epoch, epoch, recipe.epochs, mean_loss, train_acc, accs)
        if status == "diverged" or early_stop.done(epoch, step, train_acc, sel_acc):
            break
    scores = _score_splits(model, dd, aug, status == "diverged", opts.eval_batch, autocast)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    state = None
    if opts.keep_state and status == "ok":
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    val = scores.get("val", (None, None, None, None))
    test_acc, test_correct, test_count, test_hits = scores["test"]
    curve = [round(v, 4) for v in sel_curve]
    return Result(
        train_acc=round(train_acc, 4),
        test_acc=round(test_acc, 4),
        loss_curve=[round(v, 6) if math.isfinite(v) else None for v in loss_curve],
        test_curve=curve if dd.select == "test" else [],
        val_curve=curve if dd.select == "val" else [],
        val_acc=None if val[0] is None else round(val[0], 4),
        val_correct=val[1],
        val_count=val[2],
        val_hits=None if val[3] is None else encode_hits(val[3]),
        test_correct=test_correct,
        test_count=test_count,
        test_hits=encode_hits(test_hits),
        folds=1,  # one model; crossval.py makes K of them into one candidate
        epochs=epoch,
        batch_size=batch,
        seconds=round(seconds, 3),
        device=str(dev),
        params=num_params(model),
        macs=0,
        status=status,
        oom_retries=0,
        state_dict=state,
    )


def _train_epoch(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    dd: DeviceData,
    aug: Augment,
    schedule: Schedule,
    step: int,
    batch: int,
    gen: torch.Generator,
    autocast: bool,
    label_smoothing: float,
) -> tuple[float, float, int]:
    """One pass over the training images in a seeded order, starting at global ``step``.

    Returns the mean loss, the training accuracy (percent) and the step it ended at."""
    dev = dd.device
    n = len(dd.y_train)
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
            loss = F.cross_entropy(out.float(), yb, label_smoothing=label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        loss_sum += loss.detach() * len(idx)
        correct += (out.detach().argmax(1) == yb).sum()
    mean_loss = (loss_sum / n).item()  # one sync per epoch
    return mean_loss, 100.0 * correct.item() / n, step


def _score_splits(
    model: torch.nn.Module,
    dd: DeviceData,
    aug: Augment,
    diverged: bool,
    eval_batch: int,
    autocast: bool,
) -> dict[str, tuple[float, list[int], list[int], np.ndarray]]:
    """Accuracy, per-class correct, per-class counts and per-image hits of "val" (when split
    off) and "test".

    Each split is scored once, after training: test only for display, never for a decision.
    A diverged network scores nothing."""
    scores = {}
    for name, x, y in (("val", dd.x_val, dd.y_val), ("test", dd.x_test, dd.y_test)):
        if x is None:
            continue
        if diverged:
            count = torch.bincount(y, minlength=dd.num_classes).tolist()
            scores[name] = (0.0, [0] * dd.num_classes, count, np.zeros(len(y), dtype=bool))
        else:
            scores[name] = score(model, x, y, aug, dd.num_classes, eval_batch, autocast)
    return scores


def _report(cb, epoch, epochs, loss, train_acc, accs: dict) -> None:
    """The epoch event. With a validation split it carries ``val_acc`` (and ``test_acc``
    None: test is not read during training); else ``test_acc`` as the paper's way does."""
    if cb is not None:
        event = {
            "epoch": epoch,
            "epochs": epochs,
            "loss": round(loss, 6) if math.isfinite(loss) else None,
            "train_acc": round(train_acc, 4),
        }
        if "val" in accs:
            event["val_acc"] = round(accs["val"], 4)
        event["test_acc"] = round(accs["test"], 4) if "test" in accs else None
        cb(event)
