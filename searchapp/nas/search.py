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
        if prior is not None and prior.get("test_acc") is not None:
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
            if state is not None:
                self.states[arch.key] = state
                self._persist(arch.key, state)
        self.memo[arch.key] = rec
        self.candidates.append(rec)
        return rec

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
        )
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
            best_acc = self.best.test_acc
            if cfg.target_acc is not None and best_acc >= cfg.target_acc:
                break  # target reached
            if depth >= self.space.max_depth:
                break
            if last.train_acc >= 100.0:
                break  # the net already fits the training set
            depth += 1
            last = self.evaluate(self._plain(depth, width))
            gain = last.test_acc - best_acc
            if gain >= cfg.l_gain:
                self._judge(last, True, f"depth {depth} gains {gain:+.2f} >= {cfg.l_gain}")
            elif gain > -cfg.l_drop:
                self._judge(
                    last,
                    False,
                    f"depth {depth}: {gain:+.2f} is short of +{cfg.l_gain}, "
                    f"within -{cfg.l_drop}: keep growing",
                )
            else:
                self._judge(
                    last, False, f"depth {depth} drops {gain:+.2f} below -{cfg.l_drop}: stop"
                )
                break

    def _width_phase(self) -> None:
        cfg = self.config
        self._set_phase("width")
        ref = self.best
        for width in self.space.widths_down():
            rec = self.evaluate(self._plain(ref.arch["depth"], width))
            gain = rec.test_acc - ref.test_acc  # a drop of less than c_drop is accepted
            versus = f"width {width}: {gain:+.2f} against the depth result"
            if -gain < cfg.c_drop:
                self._judge(rec, True, f"{versus}, within -{cfg.c_drop}")
            else:
                self._judge(rec, False, f"{versus}, -{cfg.c_drop} or worse: stop")
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
                gain = rec.test_acc - self.best.test_acc
                name = f"layer {i + 1} {value if what == 'op' else f'k{value}'}"
                if gain > 0:
                    self._judge(rec, True, f"{name} improves {gain:+.2f}")
                    arch = cand
                else:
                    self._judge(rec, False, f"{name}: {gain:+.2f}, no gain")

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
