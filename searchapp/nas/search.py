"""Algorithm 1 of Mini-NAS: depth, then width, then per-layer op, then per-layer kernel.

Every candidate is trained from scratch. Evaluations are memoised by architecture key, and
``records`` from an interrupted run are replayed instead of retrained, so a restarted search
walks the same path and ends with the same result as an uninterrupted one with the same seed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Cancelled, SearchConfig
from .files import atomic_path
from .record import CandidateRecord
from .space import Arch, count_macs, count_params, default_stem
from .stats import Z95, diff_se

PHASES = ("depth", "width", "op", "kernel")

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
    selection_split: str = "validation"  # the split that chose the architecture
    final: dict | None = None  # the final training's results (see Search.train_final)
    final_state: dict | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {
            "candidates": self.candidates,
            "best": self.best,
            "dataset": self.dataset,
            "config": self.config,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "selection_split": self.selection_split,
            "final": self.final,
        }

    @property
    def model_state(self) -> dict | None:
        """The weights the downloads hold: the final model's when it was trained."""
        return self.final_state if self.final_state is not None else self.best_state


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
        self.space = config.space
        self.data = data
        self.on_event = on_event or (lambda e: None)
        self.should_stop = should_stop or (lambda: False)
        self.work_dir = Path(work_dir) if work_dir else None
        self.replay = {r["key"]: r for r in (records or []) if r.get("key")}
        self.memo: dict[str, CandidateRecord] = {}
        self.candidates: list[CandidateRecord] = []
        self.states: dict[str, dict] = {}
        self.num_classes = num_classes or (data.num_classes if data is not None else 10)
        self.image_size = image_size or (data.image_size if data is not None else 32)
        self.in_ch = in_ch
        self.stem = config.stem or default_stem(self.image_size)
        self.best: CandidateRecord | None = None
        self.phase = ""
        self._device_data = None
        self._evaluator = evaluator or self._train
        # "val" or "test": the split every decision and every early stop reads
        self.select = "val" if config.select_on == "validation" else "test"
        self.split = None  # (train, validation) indices into the training images
        if data is not None and self.select == "val":
            from .data import validation_indices

            self.split = validation_indices(data.y_train, config.val_frac, config.seed)

    # -- evaluation ----------------------------------------------------------------

    def _train(self, arch: Arch, on_epoch: Callable[[dict], None], stoppable: bool = True) -> dict:
        from .train import DeviceData, candidate_seed, get_recipe, resolve_device, train_candidate

        if self._device_data is None:
            train_idx, val_idx = self.split if self.split is not None else (None, None)
            self._device_data = DeviceData(
                self.data,
                resolve_device(self.config.device),
                train_idx=train_idx,
                val_idx=val_idx,
            )
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

    def evaluate(self, arch: Arch) -> CandidateRecord:
        """Train (or replay) one candidate and record it; returns the record (not yet judged)."""
        if arch.key in self.memo:
            return self.memo[arch.key]
        if self.should_stop():
            raise Cancelled()
        rec = CandidateRecord(
            index=len(self.candidates),
            phase=self.phase,
            arch=arch.to_dict(),
            key=arch.key,
            params=count_params(arch, self.in_ch, self.num_classes),
            macs=count_macs(arch, self.in_ch, self.image_size, self.num_classes),
        )
        prior = self.replay.get(arch.key)
        if prior is not None and prior.get("test_acc") is not None and self._replayable(prior):
            rec.measure(prior)
            rec.replayed = True
        else:
            self.on_event({"type": "candidate.started", **rec.started()})

            def on_epoch(e: dict) -> None:
                self.on_event({"type": "candidate.epoch", "index": rec.index, **e})

            t0 = time.perf_counter()
            out = self._evaluator(arch, on_epoch)
            state = out.pop("state_dict", None)
            rec.measure(
                {"seconds": round(time.perf_counter() - t0, 3), "device": "none", "status": "ok"}
            )
            rec.measure(out)
            rec.train_acc, rec.test_acc = float(out["train_acc"]), float(out["test_acc"])
            if out.get("val_acc") is not None:
                rec.val_acc = float(out["val_acc"])
            if state is not None:
                self.states[arch.key] = state
                self._persist(arch.key, state)
        self.memo[arch.key] = rec
        self.candidates.append(rec)
        return rec

    def _replayable(self, prior: dict) -> bool:
        """A record made on another selection split is trained again, unless it is an old one
        (before validation splits) replayed by an evaluator-driven search."""
        if self.select == "val" and self.data is not None:
            return prior.get("val_acc") is not None
        return True

    # -- the selection score and its noise ---------------------------------------------

    def acc(self, rec: CandidateRecord) -> float:
        """The accuracy decisions read: validation's, or test's when selecting on test.

        An injected evaluator that reports no val_acc is judged on its test_acc, as before."""
        if self.select == "val" and rec.val_acc is not None:
            return rec.val_acc
        return rec.test_acc

    def _n(self, rec: CandidateRecord) -> int | None:
        split = "val" if self.select == "val" and rec.val_acc is not None else "test"
        return rec.scored(split)

    def _se(self, rec: CandidateRecord, ref: CandidateRecord) -> float | None:
        """Standard error (points) of acc(rec) - acc(ref); None when the counts are unknown."""
        return diff_se(self.acc(rec), self._n(rec), self.acc(ref), self._n(ref))

    def _threshold(self, t: float, se: float | None) -> float:
        """A threshold, widened to the standard error of the difference when noise-aware."""
        return max(t, se) if self.config.noise_aware and se is not None else t

    def _noise(self, diff: float, se: float | None) -> str:
        """The reason's remark on the noise: is |diff| within 1.96 standard errors?"""
        if se is None:
            return ""
        where = "within" if abs(diff) < Z95 * se else "beyond"
        split = "validation" if self.select == "val" else "test"
        return f" ({where} the {split} noise, ±{Z95 * se:.2f})"

    def _persist(self, key: str, state: dict) -> None:
        if self.work_dir is None:
            return
        import torch

        folder = self.work_dir / "candidates"
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / _weights_name(key)) as tmp:
            torch.save(state, tmp)

    def _judge(self, rec: CandidateRecord, accepted: bool, reason: str) -> None:
        rec.accepted, rec.reason = accepted, reason
        if accepted:
            self.best = rec
        self.on_event({"type": "candidate.finished", "candidate": rec.to_dict()})

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
            self._layer_phase("op", "op", lambda arch, i: self.space.ops)
            self._layer_phase("kernel", "kernel", lambda arch, i: sorted(self.space.kernels))
        except Cancelled:
            cancelled = True
        best = self.best.to_dict() if self.best else None
        result = SearchResult(
            candidates=[c.to_dict() for c in self.candidates],
            best=best,
            config=self.config.to_dict() | {"stem": self.stem},
            dataset=self.data.summary() if self.data is not None else {},
            cancelled=cancelled,
            seconds=time.perf_counter() - start,
            selection_split="validation" if self.select == "val" else "test",
        )
        if self.split is not None:
            result.dataset = result.dataset | {
                "search_train": int(len(self.split[0])),
                "validation": int(len(self.split[1])),
            }
        if self.best is not None:
            result.best_state = self.states.get(self.best.key)
        self.on_event({"type": "search.finished", "best": best, "cancelled": cancelled})
        return result

    def _plain(self, depth: int, width: int) -> Arch:
        """All layers with the first op (sep where allowed) and the smallest kernel."""
        op = "sep" if "sep" in self.space.ops else self.space.ops[0]
        return Arch(depth, width, (op,) * depth, (min(self.space.kernels),) * depth, self.stem)

    def _depth_phase(self) -> None:
        cfg = self.config
        self._set_phase("depth")
        width = self.space.max_width
        rec = self.evaluate(self._plain(self.space.min_depth, width))
        self._judge(rec, True, "initial architecture")
        last = rec
        depth = self.space.min_depth
        while True:
            best_acc = self.acc(self.best)
            if cfg.target_acc is not None and best_acc >= cfg.target_acc:
                break  # target reached
            if depth >= self.space.max_depth:
                break
            if last.train_acc >= 100.0:
                break  # the net already fits the training set
            depth += 1
            last = self.evaluate(self._plain(depth, width))
            gain = self.acc(last) - best_acc
            se = self._se(last, self.best)
            l_gain, l_drop = self._threshold(cfg.l_gain, se), self._threshold(cfg.l_drop, se)
            note = self._noise(gain, se)
            if gain >= l_gain:
                self._judge(last, True, f"depth {depth} gains {gain:+.2f} >= {l_gain:g}{note}")
            elif gain > -l_drop:
                self._judge(
                    last,
                    False,
                    f"depth {depth}: {gain:+.2f} is short of +{l_gain:g}, "
                    f"within -{l_drop:g}: keep growing{note}",
                )
            else:
                self._judge(
                    last, False, f"depth {depth} drops {gain:+.2f} below -{l_drop:g}: stop{note}"
                )
                break

    def _width_phase(self) -> None:
        cfg = self.config
        self._set_phase("width")
        ref = self.best
        for width in self.space.widths_down():
            rec = self.evaluate(self._plain(ref.arch["depth"], width))
            gain = self.acc(rec) - self.acc(ref)  # a drop of less than c_drop is accepted
            se = self._se(rec, ref)
            c_drop, note = self._threshold(cfg.c_drop, se), self._noise(gain, se)
            versus = f"width {width}: {gain:+.2f} against the depth result"
            if -gain < c_drop:
                self._judge(rec, True, f"{versus}, within -{c_drop:g}{note}")
            else:
                self._judge(rec, False, f"{versus}, -{c_drop:g} or worse: stop{note}")
                break

    def _layer_phase(self, phase: str, what: str, options: Callable[[Arch, int], Iterable]) -> None:
        """Layer by layer, try each other op (or kernel); keep one only if it improves the best."""
        self._set_phase(phase)
        arch = Arch.from_dict(self.best.arch)
        for i in range(arch.depth):
            for value in options(arch, i):
                current = arch.ops[i] if what == "op" else arch.kernels[i]
                if value == current:
                    continue
                cand = arch.with_layer(i, **{what: value})
                rec = self.evaluate(cand)
                gain = self.acc(rec) - self.acc(self.best)
                se = self._se(rec, self.best)
                need, note = self._threshold(0.0, se), self._noise(gain, se)
                name = f"layer {i + 1} {value if what == 'op' else f'k{value}'}"
                if gain > need:
                    self._judge(rec, True, f"{name} improves {gain:+.2f}{note}")
                    arch = cand
                elif need > 0 and gain > 0:
                    self._judge(rec, False, f"{name}: {gain:+.2f}, not above {need:.2f}{note}")
                else:
                    self._judge(rec, False, f"{name}: {gain:+.2f}, no gain{note}")

    # -- weights of the result ---------------------------------------------------------

    def best_weights(self) -> dict | None:
        """The best candidate's state dict: kept in memory, on disk, or retrained (seeded)."""
        if self.best is None or self.data is None:
            return None
        key = self.best.key
        if key in self.states:
            return self.states[key]
        if self.work_dir is not None:
            path = self.work_dir / "candidates" / _weights_name(key)
            if path.exists():
                import torch

                return torch.load(path, map_location="cpu", weights_only=True)
        out = self._train(Arch.from_dict(self.best.arch), lambda e: None, stoppable=False)
        return out.get("state_dict")


MAX_MISCLASSIFIED = 200


def final_results(
    probs, y_test, classes: list[str], best: dict | None, recipe, epochs: int
) -> dict:
    """The ``final`` dict from the final model's test probabilities (N, classes).

    Test accuracy and its interval, per-class accuracy on test (and, from the search, on
    validation), the confusion matrix (rows true class, columns predicted, in ``classes``
    order) and the misclassified test images, most confident mistakes first (at most 200)."""
    import numpy as np

    from .stats import per_class, wilson

    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_test, dtype=np.int64)
    k = len(classes)
    pred = probs.argmax(1) if len(probs) else np.zeros(0, dtype=np.int64)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, pred), 1)
    correct, count = np.diag(matrix).tolist(), matrix.sum(1).tolist()
    wrong = np.flatnonzero(pred != y)
    conf = probs[wrong, pred[wrong]] if len(wrong) else np.zeros(0)
    order = wrong[np.argsort(-conf, kind="stable")][:MAX_MISCLASSIFIED]
    out = {
        "test_acc": round(100 * sum(correct) / max(len(y), 1), 4),
        "test_ci95": wilson(int(sum(correct)), len(y)),
        "val_acc": (best or {}).get("val_acc"),
        "val_ci95": (best or {}).get("val_ci95"),
        "search_test_acc": (best or {}).get("test_acc"),
        "epochs": epochs,
        "recipe": recipe.name,
        "classes": list(classes),
        "per_class": per_class(correct, count, classes),
        "per_class_val": None,
        "test_correct": correct,
        "test_count": count,
        "confusion_matrix": matrix.tolist(),
        "misclassified": [
            {
                "index": int(i),
                "true": classes[int(y[i])],
                "pred": classes[int(pred[i])],
                "confidence": round(float(probs[i, pred[i]]), 4),
            }
            for i in order
        ],
        "misclassified_total": int(len(wrong)),
    }
    if best and best.get("val_correct") and best.get("val_count"):
        out["per_class_val"] = per_class(best["val_correct"], best["val_count"], classes)
    return out


def train_final(
    search: Search,
    result: SearchResult,
    on_event: EventCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Train the chosen network again from scratch on train + validation with the final
    recipe, score it once on test, and put its results and weights on ``result``."""
    recipe = search.config.final_training()
    data = search.data
    if recipe is None or result.best is None or data is None:
        return
    import torch

    from .augment import Augment
    from .model import build_model
    from .space import IMAGENET_STEM_INPUT
    from .train import DeviceData, candidate_seed, predict, resolve_device, train_candidate

    on_event = on_event or (lambda e: None)
    arch = Arch.from_dict(result.best["arch"])
    device = resolve_device(search.config.device)
    dd = DeviceData(data, device, select="none")  # every training image; nothing held out
    on_event({"type": "final.started", "epochs": recipe.epochs, "recipe": recipe.name})
    res = train_candidate(
        arch,
        dd,
        recipe,
        seed=candidate_seed(search.config.seed, arch) + 1,
        device=device,
        on_epoch=lambda e: on_event({"type": "final.epoch", **e}),
        should_stop=should_stop,
    )
    if res.state_dict is None:  # diverged
        result.final = {"status": res.status, "epochs": res.epochs, "recipe": recipe.name}
        on_event({"type": "final.finished", "final": result.final})
        return
    model = build_model(arch, dd.in_ch, dd.num_classes).to(device)
    model.load_state_dict(res.state_dict)
    resize = IMAGENET_STEM_INPUT if arch.stem == "imagenet" else None
    aug = Augment(dd.mean, dd.std, pad=4, flip=True, resize_to=resize)
    with torch.no_grad():
        probs = predict(model, dd.x_test, aug).numpy()
    final = final_results(probs, data.y_test, data.classes, result.best, recipe, res.epochs)
    final.update({"status": res.status, "seconds": res.seconds, "train_acc": res.train_acc})
    result.final, result.final_state = final, res.state_dict
    on_event({"type": "final.finished", "final": final})


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
    if not result.cancelled:
        try:
            train_final(search, result, on_event, should_stop)
        except Cancelled:
            result.cancelled = True  # the search's own winner is kept
    return result
