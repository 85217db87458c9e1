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

from .budget import Budget
from .config import Cancelled, SearchConfig
from .files import atomic_path
from .footprint import figures
from .record import CandidateRecord
from .space import Arch, default_stem
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
    # every artifact of the final model: {name: {"file", "bytes", "test_acc", "latency_ms"}}
    exports: dict | None = None
    train_seconds: float = 0.0  # summed training time of the candidates (GPU-hours, Figure 3)

    def to_json(self) -> dict:
        return {
            "candidates": self.candidates,
            "best": self.best,
            "dataset": self.dataset,
            "config": self.config,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3),
            "wall_seconds": round(self.seconds, 3),
            "train_seconds": round(self.train_seconds, 3),
            "selection_split": self.selection_split,
            "final": self.final,
            "exports": self.exports,
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


class Assumed:
    """A candidate whose result is not known yet, met by a look-ahead walk.

    The walk assumes the outcome that keeps Algorithm 1 going the furthest (a deeper or
    narrower network is accepted, an op or kernel change is not), so it can name the
    candidates that will probably be needed next and they can train ahead of the decisions."""

    def __init__(self, arch: Arch, phase: str):
        self.arch, self.key, self.phase = arch.to_dict(), arch.key, phase


class _Pending(Exception):
    """A walk reached a candidate it has no result for (or its look-ahead is full)."""


class _Walk:
    """One pass of Algorithm 1 from the start over the results known so far.

    Decisions are pure: a walk only reads results, and Algorithm 1 with the same results
    takes the same decisions, so each new result extends the previous walk's verdicts and
    never changes them. The real walk (``ahead == 0``) stops at the first candidate without a
    result; a look-ahead walk goes on past up to ``ahead`` of them on assumed outcomes."""

    def __init__(self, search: Search, ahead: int = 0):
        self.s = search
        self.ahead = ahead
        self.best: CandidateRecord | Assumed | None = None
        self.verdicts: list[tuple[CandidateRecord, bool, str]] = []
        self.phases: list[tuple[int, str]] = []  # (number of verdicts before it, phase)
        self.needed: list[tuple[Arch, str]] = []
        self.phase = ""
        self.done = False

    def run(self) -> _Walk:
        s = self.s
        try:
            self._depth()
            self._width()
            self._layer("op", lambda arch, i: s.space.ops)
            self._layer("kernel", lambda arch, i: sorted(s.space.kernels))
            self.done = True
        except _Pending:
            pass
        return self

    # -- results ----------------------------------------------------------------------

    def get(self, arch: Arch) -> CandidateRecord | Assumed:
        rec = self.s.known(arch, self.phase, register=self.ahead == 0)
        if rec is not None:
            return rec
        self.needed.append((arch, self.phase))
        if len(self.needed) >= max(self.ahead, 1):
            raise _Pending()
        return Assumed(arch, self.phase)

    def judge(self, rec, accepted: bool, reason: str) -> None:
        if not isinstance(rec, Assumed):
            self.verdicts.append((rec, accepted, reason))
        if accepted:
            self.best = rec

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.phases.append((len(self.verdicts), phase))

    def unknown(self, *recs) -> bool:
        return any(isinstance(r, Assumed) for r in recs)

    # -- the four phases ------------------------------------------------------------------

    def _depth(self) -> None:
        s, cfg = self.s, self.s.config
        self.set_phase("depth")
        depth = s.space.min_depth
        width = s.start_width
        rec = self.get(s.plain(depth, width))
        self.judge(rec, True, "initial architecture")
        last = rec
        while True:
            if not self.unknown(self.best):
                if cfg.target_acc is not None and s.acc(self.best) >= cfg.target_acc:
                    break  # target reached
            if depth >= s.space.max_depth:
                break
            if not self.unknown(last) and last.train_acc >= 100.0:
                break  # the net already fits the training set
            depth += 1
            last = self.get(s.plain(depth, width))
            if s.is_over(last):
                self.judge(last, False, f"depth {depth}: {s.over_reason(last)}: stop")
                break
            if self.unknown(last, self.best):
                self.judge(last, True, "assumed")
                continue
            best = self.best
            gain = s.acc(last) - s.acc(best)
            se = s._se(last, best)
            l_gain, l_drop = s._threshold(cfg.l_gain, se), s._threshold(cfg.l_drop, se)
            note = s._noise(gain, se)
            if gain >= l_gain:
                self.judge(last, True, f"depth {depth} gains {gain:+.2f} >= {l_gain:g}{note}")
            elif gain > -l_drop:
                self.judge(
                    last,
                    False,
                    f"depth {depth}: {gain:+.2f} is short of +{l_gain:g}, "
                    f"within -{l_drop:g}: keep growing{note}",
                )
            else:
                self.judge(
                    last, False, f"depth {depth} drops {gain:+.2f} below -{l_drop:g}: stop{note}"
                )
                break

    def _width(self) -> None:
        s, cfg = self.s, self.s.config
        self.set_phase("width")
        ref = self.best
        for width in s.space.widths_down():
            if width >= ref.arch["width"]:
                continue  # the depth phase ran narrower than max_width to fit the budget
            rec = self.get(s.plain(ref.arch["depth"], width))
            if s.is_over(rec):
                self.judge(rec, False, f"width {width}: {s.over_reason(rec)}: skipped")
                continue
            if self.unknown(rec, ref):
                self.judge(rec, True, "assumed")
                continue
            gain = s.acc(rec) - s.acc(ref)  # a drop of less than c_drop is accepted
            se = s._se(rec, ref)
            c_drop, note = s._threshold(cfg.c_drop, se), s._noise(gain, se)
            versus = f"width {width}: {gain:+.2f} against the depth result"
            if -gain < c_drop:
                self.judge(rec, True, f"{versus}, within -{c_drop:g}{note}")
            else:
                self.judge(rec, False, f"{versus}, -{c_drop:g} or worse: stop{note}")
                break

    def _layer(self, what: str, options: Callable[[Arch, int], Iterable]) -> None:
        """Layer by layer, try each other op (or kernel); keep one only if it improves the best."""
        s = self.s
        self.set_phase(what)
        arch = Arch.from_dict(self.best.arch)
        for i in range(arch.depth):
            for value in options(arch, i):
                current = arch.ops[i] if what == "op" else arch.kernels[i]
                if value == current:
                    continue
                cand = arch.with_layer(i, **{what: value})
                name = f"layer {i + 1} {value if what == 'op' else f'k{value}'}"
                rec = self.get(cand)
                if s.is_over(rec):
                    self.judge(rec, False, f"{name}: {s.over_reason(rec)}: skipped")
                    continue
                if self.unknown(rec, self.best):
                    self.judge(rec, False, "assumed")
                    continue
                gain = s.acc(rec) - s.acc(self.best)
                se = s._se(rec, self.best)
                need, note = s._threshold(0.0, se), s._noise(gain, se)
                if gain > need:
                    self.judge(rec, True, f"{name} improves {gain:+.2f}{note}")
                    arch = cand
                elif need > 0 and gain > 0:
                    self.judge(rec, False, f"{name}: {gain:+.2f}, not above {need:.2f}{note}")
                else:
                    self.judge(rec, False, f"{name}: {gain:+.2f}, no gain{note}")


WAITING = "trained ahead; waiting for its turn"
NOT_NEEDED = "trained ahead, not needed by the decisions"


class Search:
    """One run of Algorithm 1 over a dataset (or over an injected evaluator in tests).

    With ``config.parallel`` N > 1 up to N candidates train at once (on an ``executor``:
    threads for an injected evaluator, processes for real training, RQ jobs in the web), the
    ones a look-ahead walk names next; every decision is still taken in Algorithm-1 order from
    finished results, so the accepted candidates and the result are those of N = 1."""

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
        executor: Callable[[Search], object] | None = None,
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
        self._evaluator = evaluator
        self._make_executor = executor  # search -> executor; default: executors.make_executor
        self._executor = None
        self._next_index = 1 + max(
            (int(r.get("index", -1)) for r in self.replay.values()), default=-1
        )
        self._judged = 0  # verdicts announced so far
        self._phases = 0  # phases announced so far
        self._announced: set[str] = set()  # keys announced as waiting for their turn
        self._judged_keys: set[str] = set()
        self._over: dict[str, str] = {}  # key -> the budget figure it broke
        # "val" or "test": the split every decision and every early stop reads
        self.select = "val" if config.select_on == "validation" else "test"
        self.split = None  # (train, validation) indices into the training images
        if data is not None and self.select == "val":
            from .data import validation_indices

            self.split = validation_indices(data.y_train, config.val_frac, config.seed)
        self._figures: dict = {}  # arch key -> Figures
        self.budget = Budget.from_config(config)
        self.budget.check_space(
            self.space, self.in_ch, self.image_size, self.num_classes, self.stem
        )
        self.start_width = self._start_width()

    # -- figures and the budget ---------------------------------------------------------

    def figures(self, arch: Arch):
        """An architecture's figures, computed once: every walk asks again for the ones
        it meets, and a search walks Algorithm 1 from the start after each result."""
        key = arch.key
        if key not in self._figures:
            self._figures[key] = figures(arch, self.in_ch, self.image_size, self.num_classes)
        return self._figures[key]

    def _start_width(self) -> int:
        """The depth phase's width: max_width, or the widest below it whose shallowest
        network fits the budget (check_space made sure that min_width does)."""
        for width in [self.space.max_width, *self.space.widths_down()]:
            if not self.budget.over(self.figures(self.plain(self.space.min_depth, width))):
                return width
        return self.space.min_width

    def plain(self, depth: int, width: int) -> Arch:
        """All layers with the first op (sep where allowed) and the smallest kernel."""
        op = "sep" if "sep" in self.space.ops else self.space.ops[0]
        return Arch(depth, width, (op,) * depth, (min(self.space.kernels),) * depth, self.stem)

    @staticmethod
    def is_over(rec) -> bool:
        return getattr(rec, "status", "") == "over_budget"

    def _new_record(self, arch: Arch, phase: str, index: int | None = None) -> CandidateRecord:
        fig = self.figures(arch)
        return CandidateRecord(
            index=self._next_index if index is None else index,
            phase=phase,
            arch=arch.to_dict(),
            key=arch.key,
            params=fig.params,
            macs=fig.macs,
            ram_kb=fig.ram_kb,
            flash_kb=fig.flash_kb,
        )

    def _register(self, rec: CandidateRecord) -> CandidateRecord:
        self.memo[rec.key] = rec
        self.candidates.append(rec)
        self._next_index = max(self._next_index, rec.index + 1)
        return rec

    def known(self, arch: Arch, phase: str, register: bool) -> CandidateRecord | None:
        """The result of ``arch`` if there is one without training: trained, replayed from a
        recorded run, or over the budget (never trained). Only the real walk registers a
        replayed or over-budget record, so indices follow Algorithm 1's order."""
        rec = self.memo.get(arch.key)
        if rec is not None:
            return rec if rec.is_finished else None  # a running one has no result yet
        prior = self.replay.get(arch.key)
        if prior is not None and prior.get("test_acc") is not None and self._replayable(prior):
            rec = self._new_record(arch, phase, index=prior.get("index"))
            rec.measure(prior)
            rec.replayed = True
            return self._register(rec) if register else rec
        reason = self._over.get(arch.key) or self.budget.over(self.figures(arch))
        if reason is not None:
            self._over[arch.key] = reason
            rec = self._new_record(arch, phase)
            rec.status, rec.reason = "over_budget", reason
            return self._register(rec) if register else rec
        return None

    def over_reason(self, rec) -> str:
        return self._over[rec.key]

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

    # -- training -------------------------------------------------------------------------

    def trainer(self, should_stop: Callable[[], bool] | None = None):
        """What trains one candidate: the injected evaluator, or a CandidateTrainer."""
        if self._evaluator is not None:
            return self._evaluator
        from .executors import CandidateTrainer

        return CandidateTrainer(self.config, self.data, self.split, should_stop or self.should_stop)

    def executor(self):
        if self._executor is None:
            from .executors import make_executor

            self._executor = (self._make_executor or make_executor)(self)
        return self._executor

    def _start(self, arch: Arch, phase: str) -> CandidateRecord:
        rec = self._register(self._new_record(arch, phase))
        self.phase = phase
        self.executor().submit(rec, arch)
        return rec

    def _finish(self, rec: CandidateRecord, out: dict) -> None:
        out = dict(out)
        state = out.pop("state_dict", None)
        rec.measure({"device": "none", "status": "ok"} | out)
        rec.train_acc, rec.test_acc = float(out["train_acc"]), float(out["test_acc"])
        if out.get("val_acc") is not None:
            rec.val_acc = float(out["val_acc"])
        if state is not None:
            self.states[rec.key] = state
            self._persist(rec.key, state)

    def _persist(self, key: str, state: dict) -> None:
        if self.work_dir is None:
            return
        import torch

        folder = self.work_dir / "candidates"
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / _weights_name(key)) as tmp:
            torch.save(state, tmp)

    # -- the driver ------------------------------------------------------------------------

    def _announce(self, walk: _Walk) -> None:
        """Send the phases and verdicts this walk added to the ones already announced."""
        for i in range(self._judged, len(walk.verdicts)):
            self._announce_phases(walk, i)
            rec, accepted, reason = walk.verdicts[i]
            rec.accepted, rec.reason = accepted, reason
            if accepted:
                self.best = rec
            self.on_event({"type": "candidate.finished", "candidate": rec.to_dict()})
        self._announce_phases(walk, len(walk.verdicts))
        self._judged = len(walk.verdicts)
        self._judged_keys = {rec.key for rec, _, _ in walk.verdicts}
        self.phase = walk.phase

    def _announce_phases(self, walk: _Walk, upto: int) -> None:
        while self._phases < len(walk.phases) and walk.phases[self._phases][0] <= upto:
            self.on_event({"type": "search.phase", "phase": walk.phases[self._phases][1]})
            self._phases += 1

    def _drive(self) -> None:
        n = self.config.parallel
        inflight: dict[str, CandidateRecord] = {}
        while True:
            walk = _Walk(self).run()
            self._announce(walk)
            for rec in self.candidates:  # finished ahead of their turn: say so once
                if rec.is_finished and rec.key not in self._judged_keys | self._announced:
                    rec.reason = WAITING
                    self._announced.add(rec.key)
                    self.on_event({"type": "candidate.finished", "candidate": rec.to_dict()})
            if walk.done:
                return
            if self.should_stop():
                raise Cancelled()
            if len(inflight) < n:
                ahead = _Walk(self, ahead=n + len(inflight)).run().needed
                for arch, phase in ahead:
                    if len(inflight) >= n:
                        break
                    if arch.key not in inflight:
                        inflight[arch.key] = self._start(arch, phase)
            key, out = self.executor().wait()
            self._finish(inflight.pop(key), out)

    def run(self) -> SearchResult:
        start = time.perf_counter()
        cancelled = False
        try:
            self._drive()
        except Cancelled:
            cancelled = True
        finally:
            if self._executor is not None:
                self._executor.close()
        # Candidates still training when the decisions ended never finished: not part of it.
        self.candidates = [c for c in self.candidates if c.is_finished]
        if not cancelled:
            self._keep_unreached_records()
        for rec in self.candidates:
            if rec.key not in self._judged_keys and not cancelled:
                rec.speculative, rec.accepted, rec.reason = True, False, NOT_NEEDED
                self.on_event({"type": "candidate.finished", "candidate": rec.to_dict()})
        self.candidates.sort(key=lambda c: c.index)
        best = self.best.to_dict() if self.best else None
        result = SearchResult(
            candidates=[c.to_dict() for c in self.candidates],
            best=best,
            config=self.config.to_dict() | {"stem": self.stem},
            dataset=self.data.summary() if self.data is not None else {},
            cancelled=cancelled,
            seconds=time.perf_counter() - start,
            selection_split="validation" if self.select == "val" else "test",
            train_seconds=sum(c.seconds for c in self.candidates if not c.replayed),
        )
        if self.split is not None:
            result.dataset = result.dataset | {
                "search_train": int(len(self.split[0])),
                "validation": int(len(self.split[1])),
            }
        if self.best is not None:
            result.best_state = self.states.get(self.best.key)
        self.on_event(
            {
                "type": "search.finished",
                "best": best,
                "cancelled": cancelled,
                "wall_seconds": round(result.seconds, 3),
                "train_seconds": round(result.train_seconds, 3),
            }
        )
        return result

    def _keep_unreached_records(self) -> None:
        """Results of an earlier run of this search that its decisions never reached (trained
        ahead before it was interrupted) stay part of it, as speculative ones."""
        for key, prior in self.replay.items():
            if key in self.memo or prior.get("test_acc") is None or prior.get("index") is None:
                continue
            if not self._replayable(prior):
                continue
            rec = self._new_record(
                Arch.from_dict(prior["arch"]), prior.get("phase", ""), prior["index"]
            )
            rec.measure(prior)
            rec.replayed = True
            self._register(rec)

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
        from .executors import CandidateTrainer

        trainer = CandidateTrainer(self.config, self.data, self.split)
        out = trainer(Arch.from_dict(self.best.arch), lambda e: None)
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
    executor: Callable[[Search], object] | None = None,
) -> SearchResult:
    """Run Algorithm 1 on ``data``; the result carries the best candidate's weights."""
    search = Search(
        config,
        data=data,
        on_event=on_event,
        records=records,
        should_stop=should_stop,
        work_dir=work_dir,
        executor=executor,
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
