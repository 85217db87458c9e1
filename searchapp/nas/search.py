"""Algorithm 1 of Mini-NAS: depth, then width, then per-layer op, then per-layer kernel.

Every candidate is trained from scratch. Evaluations are memoised by architecture key, and
``records`` from an interrupted run are replayed instead of retrained, so a restarted search
walks the same path and ends with the same result as an uninterrupted one with the same seed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .config import RECIPES, Cancelled
from .space import KERNELS, OPS, Arch, SearchSpace, count_macs, count_params, default_stem

PHASES = ("depth", "width", "op", "kernel")

# ----------------------------------------------------------------------------- Config


@dataclass
class SearchConfig:
    """Everything a search depends on; plain data that round-trips through JSON."""

    min_depth: int = 3
    max_depth: int = 15
    min_width: int = 16
    max_width: int = 64
    width_step: int = 16
    ops: tuple[str, ...] = OPS
    kernels: tuple[int, ...] = KERNELS
    l_gain: float = 0.5  # accuracy points a deeper net must gain to be accepted
    l_drop: float = 0.25  # a deeper net within this of the best keeps the depth search going
    c_drop: float = 0.5  # a narrower net within this of the depth result is accepted
    target_acc: float | None = None  # stop growing depth once the best reaches it
    recipe: str = "fast"
    epochs: int | None = None  # None: the recipe's own
    batch_size: int | None = None  # None: the recipe's own
    seed: int = 0
    device: str = "auto"
    stem: str | None = None  # None: chosen from the image size

    def __post_init__(self) -> None:
        self.ops = tuple(self.ops)
        self.kernels = tuple(int(k) for k in self.kernels)
        self.validate()

    @classmethod
    def from_dict(cls, data: dict) -> SearchConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown search setting {unknown[0]!r}")
        values = {}
        for f in fields(cls):
            if f.name not in data or data[f.name] is None:
                continue
            v = data[f.name]
            try:
                if f.name in ("l_gain", "l_drop", "c_drop", "target_acc"):
                    v = float(v)
                elif f.name in ("ops",):
                    v = tuple(str(x) for x in v)
                elif f.name in ("kernels",):
                    v = tuple(int(x) for x in v)
                elif f.name in ("recipe", "device", "stem"):
                    v = str(v)
                else:
                    if isinstance(v, float) and not v.is_integer():
                        raise ValueError
                    v = int(v)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{f.name}: invalid value {data[f.name]!r}") from exc
            values[f.name] = v
        return cls(**values)

    def validate(self) -> None:
        self.space()  # raises ValueError naming the bound
        for name in ("l_gain", "l_drop", "c_drop"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v <= 100:
                raise ValueError(f"{name} must be between 0 and 100 accuracy points, got {v!r}")
        if self.target_acc is not None and not 0 < self.target_acc <= 100:
            raise ValueError(f"target_acc must be in (0, 100], got {self.target_acc!r}")
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}")
        if self.epochs is not None and not 1 <= self.epochs <= 1000:
            raise ValueError(f"epochs must be in [1, 1000], got {self.epochs!r}")
        if self.batch_size is not None and not 1 <= self.batch_size <= 8192:
            raise ValueError(f"batch_size must be in [1, 8192], got {self.batch_size!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.stem is not None and self.stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be cifar or imagenet, got {self.stem!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def space(self) -> SearchSpace:
        return SearchSpace(
            self.min_depth,
            self.max_depth,
            self.min_width,
            self.max_width,
            self.width_step,
            self.ops,
            self.kernels,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ops"], d["kernels"] = list(self.ops), list(self.kernels)
        return d


# ----------------------------------------------------------------------------- Result


@dataclass
class SearchResult:
    candidates: list[dict]
    best: dict | None
    config: dict
    dataset: dict
    cancelled: bool = False
    seconds: float = 0.0
    best_state: dict | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {
            "candidates": self.candidates,
            "best": self.best,
            "dataset": self.dataset,
            "config": self.config,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
        }


Evaluator = Callable[[Arch, Callable[[dict], None]], dict]
EventCallback = Callable[[dict], None]


def _weights_name(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:20] + ".pt"


# ----------------------------------------------------------------------------- Algorithm 1


class Search:
    """One run of Algorithm 1 over a dataset (or over an injected evaluator in tests)."""

    def __init__(
        self,
        config: SearchConfig,
        *,
        data=None,
        evaluator: Evaluator | None = None,
        on_event: EventCallback | None = None,
        records: list[dict] | None = None,
        should_stop: Callable[[], bool] | None = None,
        work_dir: str | os.PathLike | None = None,
        in_ch: int = 3,
        num_classes: int | None = None,
        image_size: int | None = None,
    ):
        if data is None and evaluator is None:
            raise ValueError("a search needs data or an evaluator")
        self.config = config
        self.space = config.space()
        self.data = data
        self.on_event = on_event or (lambda e: None)
        self.should_stop = should_stop or (lambda: False)
        self.work_dir = Path(work_dir) if work_dir else None
        self.replay = {r["key"]: r for r in (records or []) if r.get("key")}
        self.memo: dict[str, dict] = {}
        self.candidates: list[dict] = []
        self.states: dict[str, dict] = {}
        self.num_classes = num_classes or (data.num_classes if data is not None else 10)
        self.image_size = image_size or (data.image_size if data is not None else 32)
        self.in_ch = in_ch
        self.stem = config.stem or default_stem(self.image_size)
        self.best: dict | None = None
        self.phase = ""
        self._device_data = None
        self._evaluator = evaluator or self._train

    # -- evaluation ----------------------------------------------------------------

    def _train(self, arch: Arch, on_epoch: Callable[[dict], None], stoppable: bool = True) -> dict:
        from .train import DeviceData, candidate_seed, get_recipe, resolve_device, train_candidate

        if self._device_data is None:
            self._device_data = DeviceData(self.data, resolve_device(self.config.device))
        recipe = get_recipe(self.config.recipe, self.config.epochs, self.config.batch_size)
        res = train_candidate(
            arch,
            self._device_data,
            recipe,
            seed=candidate_seed(self.config.seed, arch),
            device=self._device_data.device,
            on_epoch=on_epoch,
            should_stop=self.should_stop if stoppable else None,
        )
        out = res.metrics()
        out["state_dict"] = res.state_dict
        return out

    def evaluate(self, arch: Arch) -> dict:
        """Train (or replay) one candidate and record it; returns the record (not yet judged)."""
        if arch.key in self.memo:
            return self.memo[arch.key]
        if self.should_stop():
            raise Cancelled()
        index = len(self.candidates)
        params = count_params(arch, self.in_ch, self.num_classes)
        macs = count_macs(arch, self.in_ch, self.image_size, self.num_classes)
        rec = {
            "index": index,
            "phase": self.phase,
            "arch": arch.to_dict(),
            "key": arch.key,
            "params": params,
            "macs": macs,
        }
        prior = self.replay.get(arch.key)
        if prior is not None and prior.get("test_acc") is not None:
            for k in (
                "train_acc",
                "test_acc",
                "loss_curve",
                "test_curve",
                "epochs",
                "batch_size",
                "seconds",
                "device",
                "status",
                "oom_retries",
            ):
                rec[k] = prior.get(k)
            rec["replayed"] = True
        else:
            self.on_event(
                {
                    "type": "candidate.started",
                    **{k: rec[k] for k in ("index", "phase", "arch", "params", "macs")},
                }
            )

            def on_epoch(e: dict) -> None:
                self.on_event({"type": "candidate.epoch", "index": index, **e})

            t0 = time.perf_counter()
            out = self._evaluator(arch, on_epoch)
            state = out.pop("state_dict", None)
            rec.update(
                {
                    "train_acc": float(out["train_acc"]),
                    "test_acc": float(out["test_acc"]),
                    "loss_curve": out.get("loss_curve", []),
                    "test_curve": out.get("test_curve", []),
                    "epochs": out.get("epochs", 0),
                    "batch_size": out.get("batch_size", 0),
                    "seconds": out.get("seconds", round(time.perf_counter() - t0, 3)),
                    "device": out.get("device", "none"),
                    "status": out.get("status", "ok"),
                    "oom_retries": out.get("oom_retries", 0),
                    "replayed": False,
                }
            )
            if state is not None:
                self.states[arch.key] = state
                self._persist(arch.key, state)
        rec["accepted"], rec["reason"] = False, ""
        self.memo[arch.key] = rec
        self.candidates.append(rec)
        return rec

    def _persist(self, key: str, state: dict) -> None:
        if self.work_dir is None:
            return
        import torch

        folder = self.work_dir / "candidates"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (_weights_name(key) + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, folder / _weights_name(key))

    def _judge(self, rec: dict, accepted: bool, reason: str) -> None:
        rec["accepted"], rec["reason"] = accepted, reason
        if accepted:
            self.best = rec
        self.on_event({"type": "candidate.finished", "candidate": dict(rec)})

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self.on_event({"type": "search.phase", "phase": phase})

    # -- the four phases -------------------------------------------------------------

    def run(self) -> SearchResult:
        start = time.perf_counter()
        cancelled = False
        try:
            self._depth_phase()
            self._width_phase()
            self._op_phase()
            self._kernel_phase()
        except Cancelled:
            cancelled = True
        result = SearchResult(
            candidates=[dict(c) for c in self.candidates],
            best=dict(self.best) if self.best else None,
            config=self.config.to_dict() | {"stem": self.stem},
            dataset=self.data.summary() if self.data is not None else {},
            cancelled=cancelled,
            seconds=time.perf_counter() - start,
        )
        if self.best is not None:
            result.best_state = self.states.get(self.best["key"])
        self.on_event({"type": "search.finished", "best": result.best, "cancelled": cancelled})
        return result

    def _initial_op(self) -> str:
        return "sep" if "sep" in self.space.ops else self.space.ops[0]

    def _initial_kernel(self) -> int:
        return min(self.space.kernels)

    def _plain(self, depth: int, width: int) -> Arch:
        return Arch(
            depth,
            width,
            (self._initial_op(),) * depth,
            (self._initial_kernel(),) * depth,
            self.stem,
        )

    def _depth_phase(self) -> None:
        cfg = self.config
        self._set_phase("depth")
        width = self.space.max_width
        rec = self.evaluate(self._plain(self.space.min_depth, width))
        self._judge(rec, True, "initial architecture")
        last = rec
        depth = self.space.min_depth
        while True:
            best_acc = self.best["test_acc"]
            if cfg.target_acc is not None and best_acc >= cfg.target_acc:
                break  # target reached
            if depth >= self.space.max_depth:
                break
            if last["train_acc"] >= 100.0:
                break  # the net already fits the training set
            depth += 1
            last = self.evaluate(self._plain(depth, width))
            acc = last["test_acc"]
            if acc >= best_acc + cfg.l_gain:
                self._judge(
                    last, True, f"depth {depth} gains {acc - best_acc:+.2f} >= {cfg.l_gain}"
                )
            elif acc > best_acc - cfg.l_drop:
                self._judge(
                    last,
                    False,
                    f"depth {depth}: {acc - best_acc:+.2f} is short of +{cfg.l_gain}, "
                    f"within -{cfg.l_drop}: keep growing",
                )
            else:
                self._judge(
                    last,
                    False,
                    f"depth {depth} drops {acc - best_acc:+.2f} below -{cfg.l_drop}: stop",
                )
                break

    def _width_phase(self) -> None:
        cfg = self.config
        self._set_phase("width")
        ref = self.best
        depth = ref["arch"]["depth"]
        for width in self.space.widths_down():
            rec = self.evaluate(self._plain(depth, width))
            drop = ref["test_acc"] - rec["test_acc"]
            if drop < cfg.c_drop:
                self._judge(rec, True, f"width {width} drops {drop:.2f} < {cfg.c_drop}")
            else:
                self._judge(rec, False, f"width {width} drops {drop:.2f} >= {cfg.c_drop}: stop")
                break

    def _op_phase(self) -> None:
        self._set_phase("op")
        arch = Arch.from_dict(self.best["arch"])
        for i in range(arch.depth):
            for op in self.space.ops:
                if op == arch.ops[i]:
                    continue
                cand = arch.with_layer(i, op=op)
                rec = self.evaluate(cand)
                acc, best_acc = rec["test_acc"], self.best["test_acc"]
                if acc > best_acc:
                    self._judge(rec, True, f"layer {i + 1} {op} improves {acc - best_acc:+.2f}")
                    arch = cand
                else:
                    self._judge(rec, False, f"layer {i + 1} {op}: {acc - best_acc:+.2f}, no gain")

    def _kernel_phase(self) -> None:
        self._set_phase("kernel")
        arch = Arch.from_dict(self.best["arch"])
        for i in range(arch.depth):
            base_k = arch.kernels[i]
            for k in sorted(self.space.kernels):
                if k == base_k:
                    continue
                cand = arch.with_layer(i, kernel=k)
                rec = self.evaluate(cand)
                acc, best_acc = rec["test_acc"], self.best["test_acc"]
                if acc > best_acc:
                    self._judge(rec, True, f"layer {i + 1} k{k} improves {acc - best_acc:+.2f}")
                    arch = cand
                else:
                    self._judge(rec, False, f"layer {i + 1} k{k}: {acc - best_acc:+.2f}, no gain")

    # -- weights of the result ---------------------------------------------------------

    def best_weights(self) -> dict | None:
        """The best candidate's state dict: kept in memory, on disk, or retrained (seeded)."""
        if self.best is None or self.data is None:
            return None
        key = self.best["key"]
        if key in self.states:
            return self.states[key]
        if self.work_dir is not None:
            path = self.work_dir / "candidates" / _weights_name(key)
            if path.exists():
                import torch

                return torch.load(path, map_location="cpu", weights_only=True)
        out = self._train(Arch.from_dict(self.best["arch"]), lambda e: None, stoppable=False)
        return out.get("state_dict")


def run_search(
    data,
    config: SearchConfig,
    on_event: EventCallback | None = None,
    records: list[dict] | None = None,
    should_stop: Callable[[], bool] | None = None,
    work_dir: str | os.PathLike | None = None,
) -> SearchResult:
    """Run Algorithm 1 on ``data``; the result carries the best candidate's weights."""
    search = Search(
        config,
        data=data,
        on_event=on_event,
        records=records,
        should_stop=should_stop,
        work_dir=work_dir,
    )
    result = search.run()
    if result.best is not None and result.best_state is None:
        result.best_state = search.best_weights()
    return result
