"""One search: Algorithm 1 of Mini-NAS over a dataset, from the first candidate to the result.

Every candidate is trained from scratch. Evaluations are memoised by architecture key, and
``records`` from an interrupted run are replayed instead of retrained, so a restarted search
walks the same path and ends with the same result as an uninterrupted one with the same seed.

Where each part lives: the walk and its decisions in algorithm.py, the candidates in flight in
scheduler.py, where they train in executors.py, the winner's final training and results in
final.py, what a search returns in result.py. This module holds the search's state (its
records and the budget), the selection score and its noise, and the entry point ``run_search``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .budget import Budget
from .config import Cancelled, SearchConfig
from .evidence import decode_hits, paired_difference
from .executors import selection_split
from .final import best_weights, final_results, train_final
from .footprint import figures
from .record import CandidateRecord
from .result import SearchResult
from .scheduler import NOT_NEEDED, WAITING, Scheduler
from .space import Arch, default_stem
from .stats import Z95, diff_se

__all__ = [
    "NOT_NEEDED",
    "WAITING",
    "Search",
    "SearchConfig",
    "SearchResult",
    "final_results",
    "run_search",
    "train_final",
]


Evaluator = Callable[[Arch, Callable[[dict], None]], dict]
EventCallback = Callable[[dict], None]


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
        self.evaluator = evaluator
        self.make_executor = executor  # search -> executor; None: executors.make_executor
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
        self._next_index = 1 + max(
            (int(r.get("index", -1)) for r in self.replay.values()), default=-1
        )
        self._over: dict[str, str] = {}  # key -> the budget figure it broke
        # "val" or "test": the split every decision and every early stop reads
        self.select = "val" if config.select_on == "validation" else "test"
        self.split = selection_split(config, data)  # folds.FoldPlan, or None (select on test)
        self.folds = self.split.k if self.split is not None else 1
        self._hits: dict[tuple[str, str], object] = {}  # (key, split) -> hit vector
        self._evidence: dict[tuple[str, str], dict | None] = {}  # (key, incumbent's key)
        self._figures: dict = {}  # arch key -> Figures
        self._latency: dict = {}  # arch key -> estimated ms on the target board (or None)
        self.budget = Budget.from_config(config)
        config.check_space(self.in_ch, self.image_size, self.num_classes)
        self.start_width = self._start_width()

    # -- figures and the budget ---------------------------------------------------------

    def figures(self, arch: Arch):
        """An architecture's figures, computed once: every walk asks again for the ones
        it meets, and a search walks Algorithm 1 from the start after each result."""
        key = arch.key
        if key not in self._figures:
            self._figures[key] = figures(arch, self.in_ch, self.image_size, self.num_classes)
        return self._figures[key]

    def latency(self, arch: Arch) -> float | None:
        """The estimated ms of one inference on the target board (None without a board)."""
        key = arch.key
        if key not in self._latency:
            shape = (self.in_ch, self.image_size, self.num_classes)
            self._latency[key] = self.budget.latency_ms(arch, *shape)
        return self._latency[key]

    def _over_budget(self, arch: Arch) -> str | None:
        return self.budget.over(self.figures(arch), self.latency(arch))

    def _start_width(self) -> int:
        """The depth phase's width: max_width, or the widest below it whose shallowest
        network fits the budget (check_space made sure that min_width does)."""
        for width in [self.space.max_width, *self.space.widths_down()]:
            if not self._over_budget(self.plain(self.space.min_depth, width)):
                return width
        return self.space.min_width

    def plain(self, depth: int, width: int) -> Arch:
        """All layers with the first op (sep where allowed) and the smallest kernel."""
        op = "sep" if "sep" in self.space.ops else self.space.ops[0]
        return Arch(depth, width, (op,) * depth, (min(self.space.kernels),) * depth, self.stem)

    @staticmethod
    def is_over(rec) -> bool:
        return getattr(rec, "status", "") == "over_budget"

    def over_reason(self, rec) -> str:
        return self._over[rec.key]

    # -- records -------------------------------------------------------------------------

    def new_record(self, arch: Arch, phase: str, index: int | None = None) -> CandidateRecord:
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
            board_latency_ms=self.latency(arch),
        )

    def register(self, rec: CandidateRecord) -> CandidateRecord:
        """Make ``rec`` one of the search's candidates (it takes the next free index)."""
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
            rec = self.new_record(arch, phase, index=prior.get("index"))
            rec.measure(prior)
            rec.replayed = True
            return self.register(rec) if register else rec
        reason = self._over.get(arch.key) or self._over_budget(arch)
        if reason is not None:
            self._over[arch.key] = reason
            rec = self.new_record(arch, phase)
            rec.status, rec.reason = "over_budget", reason
            return self.register(rec) if register else rec
        return None

    def _replayable(self, prior: dict) -> bool:
        """A record made on another selection split (or another number of folds) is trained
        again, and so is one without per-image results when the evidence rule needs them;
        an evaluator-driven search replays whatever it is given."""
        if self.data is None:
            return True
        if self.config.rule == "evidence" and not prior.get(f"{self.select}_hits"):
            return False
        if self.select == "val":
            return prior.get("val_acc") is not None and prior.get("folds", 1) == self.folds
        return True

    def keep_unreached_records(self) -> None:
        """Results of an earlier run of this search that its decisions never reached (trained
        ahead before it was interrupted) stay part of it, as speculative ones."""
        for key, prior in self.replay.items():
            if key in self.memo or prior.get("test_acc") is None or prior.get("index") is None:
                continue
            if not self._replayable(prior):
                continue
            rec = self.new_record(
                Arch.from_dict(prior["arch"]), prior.get("phase", ""), prior["index"]
            )
            rec.measure(prior)
            rec.replayed = True
            self.register(rec)

    # -- the selection score and its noise ---------------------------------------------

    def acc(self, rec: CandidateRecord) -> float:
        """The accuracy decisions read: validation's, or test's when selecting on test.

        An injected evaluator that reports no val_acc is judged on its test_acc."""
        if self.select == "val" and rec.val_acc is not None:
            return rec.val_acc
        return rec.test_acc

    def _scored(self, rec: CandidateRecord) -> int | None:
        split = "val" if self.select == "val" and rec.val_acc is not None else "test"
        return rec.scored(split)

    def se(self, rec: CandidateRecord, ref: CandidateRecord) -> float | None:
        """Standard error (points) of acc(rec) - acc(ref); None when the counts are unknown."""
        return diff_se(self.acc(rec), self._scored(rec), self.acc(ref), self._scored(ref))

    def hits(self, rec: CandidateRecord):
        """The per-image hits of ``rec`` on the selection images (None if not recorded)."""
        split = "val" if self.select == "val" and rec.val_acc is not None else "test"
        cached = self._hits.get((rec.key, split))
        if cached is not None:
            return cached
        text, n = getattr(rec, f"{split}_hits", None), rec.scored(split)
        if not text or not n:
            return None
        try:
            hits = decode_hits(text, n)
        except ValueError:  # a damaged record: judged on its accuracy alone
            return None
        self._hits[(rec.key, split)] = hits
        return hits

    def evidence(self, rec: CandidateRecord, ref: CandidateRecord) -> dict | None:
        """The paired comparison of ``rec`` with the incumbent ``ref`` on the same selection
        images ({"vs", "diff", "ci95", "n", "method"}); None when either lacks per-image
        results or they were scored on different images."""
        pair = (rec.key, ref.key)
        if pair not in self._evidence:
            a, b = self.hits(rec), self.hits(ref)
            same = a is not None and b is not None and len(a) == len(b)
            paired = same and rec.folds == ref.folds
            self._evidence[pair] = paired_difference(a, b) if paired else None
        ev = self._evidence[pair]
        return {"vs": ref.index, **ev} if ev is not None else None

    def by_evidence(self, ev: dict | None) -> bool:
        """Whether this decision follows the evidence rule (it needs the comparison)."""
        return self.config.rule == "evidence" and ev is not None

    def threshold(self, t: float, se: float | None) -> float:
        """A threshold, widened to the standard error of the difference when noise-aware."""
        return max(t, se) if self.config.noise_aware and se is not None else t

    def noise(self, diff: float, se: float | None) -> str:
        """The reason's remark on the noise: is |diff| within 1.96 standard errors? Under the
        evidence rule this decision had no paired comparison, so the reason says so."""
        fallback = ""
        if self.config.rule == "evidence":
            fallback = " (no per-image results to compare: Algorithm 1's thresholds)"
        if se is None:
            return fallback
        where = "within" if abs(diff) < Z95 * se else "beyond"
        split = "validation" if self.select == "val" else "test"
        return f" ({where} the {split} noise, ±{Z95 * se:.2f}){fallback}"

    # -- running ---------------------------------------------------------------------------

    def trainer(self, should_stop: Callable[[], bool] | None = None):
        """What trains one candidate: the injected evaluator, or a CandidateTrainer."""
        if self.evaluator is not None:
            return self.evaluator
        from .executors import CandidateTrainer

        return CandidateTrainer(self.config, self.data, self.split, should_stop or self.should_stop)

    def run(self) -> SearchResult:
        start = time.perf_counter()
        cancelled = Scheduler(self).run()
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
            folds=self.folds,
        )
        if self.split is not None:
            result.dataset = result.dataset | {
                "search_train": int(len(self.split.splits[0][0])),
                "validation": int(self.split.n_scored),
                "folds": self.folds,
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


def run_search(
    data,
    config: SearchConfig,
    on_event: EventCallback | None = None,
    records: list[dict] | None = None,
    should_stop: Callable[[], bool] | None = None,
    work_dir: str | os.PathLike | None = None,
    executor: Callable[[Search], object] | None = None,
) -> SearchResult:
    """Run Algorithm 1 on ``data``, then the winner's final training (unless cancelled); the
    result carries the weights of the final model, or of the best candidate."""
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
        result.best_state = best_weights(search)
    if not result.cancelled:
        try:
            train_final(search, result, on_event, should_stop)
        except Cancelled:
            result.cancelled = True  # the search's own winner is kept
    return result
