"""The candidate scheduler: keeps up to ``parallel`` candidates in flight, decides in order.

After every finished candidate it walks Algorithm 1 (algorithm.py) from the start over the known
results and announces the verdicts the walk added. While a slot is free it starts the
candidates a look-ahead walk names next, on the search's executor (executors.py, or the web's
RQ executor). Decisions are only ever taken on finished results, in Algorithm 1's order, so the
accepted candidates and the result are those of a search with one candidate in flight.

A new scheduling policy (which candidates to start, and when) is written here.
"""

from __future__ import annotations

from .algorithm import Walk
from .candidate_weights import persist_weights
from .config import Cancelled
from .record import CandidateRecord
from .space import Arch

WAITING = "trained ahead; waiting for its turn"
NOT_NEEDED = "trained ahead, not needed by the decisions"


class Scheduler:
    """Runs the candidates of one search (search.Search) to the end of Algorithm 1, or to
    Cancel."""

    def __init__(self, search):
        self.search = search
        self.slots = search.config.parallel
        self.inflight: dict[str, CandidateRecord] = {}  # key -> started, no result yet
        self.executor = None
        self.judged = 0  # verdicts announced so far
        self.phases = 0  # phases announced so far
        self.judged_keys: set[str] = set()
        self.waiting: set[str] = set()  # keys announced as waiting for their turn

    def run(self) -> bool:
        """Train and decide until Algorithm 1 ends; True when the search was cancelled.

        Candidates still training when the decisions end are dropped; those trained ahead and
        never needed are announced as such."""
        try:
            cancelled = not self._decide()
        except Cancelled:  # raised inside a candidate's training or the executor's wait
            cancelled = True
        finally:
            if self.executor is not None:
                self.executor.close()
        s = self.search
        s.candidates = [c for c in s.candidates if c.is_finished]
        if cancelled:
            return True
        s.keep_unreached_records()
        for rec in s.candidates:
            if rec.key not in self.judged_keys:
                rec.speculative, rec.accepted, rec.reason = True, False, NOT_NEEDED
                s.on_event({"type": "candidate.finished", "candidate": rec.to_dict()})
        return False

    def _decide(self) -> bool:
        """Walk, announce, start, wait: True once Algorithm 1 ends, False on Cancel."""
        while True:
            walk = Walk(self.search).run()
            self._announce(walk)
            self._announce_waiting()
            if walk.done:
                return True
            if self.search.should_stop():
                return False
            self._fill_slots()
            key, out = self._executor().wait()
            self._finish(self.inflight.pop(key), out)

    def _fill_slots(self) -> None:
        """Start the candidates a look-ahead walk names next, while a slot is free."""
        if len(self.inflight) >= self.slots:
            return
        ahead = Walk(self.search, ahead=self.slots + len(self.inflight)).run().needed
        for arch, phase in ahead:
            if len(self.inflight) >= self.slots:
                break
            if arch.key not in self.inflight:
                self.inflight[arch.key] = self._start(arch, phase)

    # -- the executor ------------------------------------------------------------------------

    def _executor(self):
        if self.executor is None:
            from .executors import make_executor

            self.executor = (self.search.make_executor or make_executor)(self.search)
        return self.executor

    def _start(self, arch: Arch, phase: str) -> CandidateRecord:
        s = self.search
        rec = s.register(s.new_record(arch, phase))
        s.phase = phase
        self._executor().submit(rec, arch)
        return rec

    def _finish(self, rec: CandidateRecord, out: dict) -> None:
        s = self.search
        out = dict(out)
        state = out.pop("state_dict", None)
        rec.measure({"device": "none", "status": "ok"} | out)
        rec.train_acc, rec.test_acc = float(out["train_acc"]), float(out["test_acc"])
        if out.get("val_acc") is not None:
            rec.val_acc = float(out["val_acc"])
        if state is not None:
            s.states[rec.key] = state
            if s.work_dir is not None:
                persist_weights(s.work_dir, rec.key, state)

    # -- events ------------------------------------------------------------------------------

    def _announce(self, walk: Walk) -> None:
        """Send the phases and verdicts this walk added to the ones already announced."""
        s = self.search
        for i in range(self.judged, len(walk.verdicts)):
            self._announce_phases(walk, i)
            rec, accepted, reason, evidence = walk.verdicts[i]
            rec.accepted, rec.reason, rec.evidence = accepted, reason, evidence
            if accepted:
                s.best = rec
            s.on_event({"type": "candidate.finished", "candidate": rec.to_dict()})
        self._announce_phases(walk, len(walk.verdicts))
        self.judged = len(walk.verdicts)
        self.judged_keys = {v[0].key for v in walk.verdicts}
        s.phase = walk.phase

    def _announce_phases(self, walk: Walk, upto: int) -> None:
        while self.phases < len(walk.phases) and walk.phases[self.phases][0] <= upto:
            self.search.on_event({"type": "search.phase", "phase": walk.phases[self.phases][1]})
            self.phases += 1

    def _announce_waiting(self) -> None:
        """Candidates finished ahead of their turn: say so once."""
        for rec in self.search.candidates:
            if rec.is_finished and rec.key not in self.judged_keys | self.waiting:
                rec.reason = WAITING
                self.waiting.add(rec.key)
                self.search.on_event({"type": "candidate.finished", "candidate": rec.to_dict()})
