"""Algorithm 1 of Mini-NAS as a walk: depth, then width, then per-layer op, then per-layer kernel.

A walk only reads results and takes Algorithm 1's decisions on them; it trains nothing. The
scheduler (scheduler.py) walks again from the start after each finished candidate: the decisions
are pure, so each new result extends the previous walk's verdicts and never changes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from .record import CandidateRecord
from .rule import evidence_verdict
from .space import Arch


class Assumed:
    """A candidate whose result is not known yet, met by a look-ahead walk.

    The walk assumes the outcome that keeps Algorithm 1 going the furthest (a deeper or
    narrower network is accepted, an op or kernel change is not), so it can name the
    candidates that will probably be needed next and they can train ahead of the decisions."""

    def __init__(self, arch: Arch, phase: str):
        self.arch, self.key, self.phase = arch.to_dict(), arch.key, phase


class Walk:
    """One pass of Algorithm 1 from the start over the results known so far of a search
    (search.Search: its records, its budget and its selection score).

    The real walk (``ahead == 0``) stops at the first candidate without a result; a look-ahead
    walk goes on past up to ``ahead`` of them on assumed outcomes. After ``run()``, ``done`` says
    whether the walk reached the end of Algorithm 1, ``verdicts`` holds its decisions in order
    and ``needed`` the candidates it met without a result."""

    def __init__(self, search, ahead: int = 0):
        self.s = search
        self.ahead = ahead
        self.best: CandidateRecord | Assumed | None = None
        # (record, accepted, reason, evidence: the paired comparison, or None)
        self.verdicts: list[tuple[CandidateRecord, bool, str, dict | None]] = []
        self.phases: list[tuple[int, str]] = []  # (number of verdicts before it, phase)
        self.needed: list[tuple[Arch, str]] = []
        self.phase = ""
        self.done = False

    def run(self) -> Walk:
        space = self.s.space
        # each phase returns False where it met a candidate it cannot go past
        self.done = (
            self._depth()
            and self._width()
            and self._layer("op", space.ops)
            and self._layer("kernel", sorted(space.kernels))
        )
        return self

    # -- results ----------------------------------------------------------------------

    def get(self, arch: Arch) -> CandidateRecord | Assumed | None:
        """The result of ``arch``; an Assumed one while the look-ahead has room; else None,
        where the walk stops."""
        rec = self.s.known(arch, self.phase, register=self.ahead == 0)
        if rec is not None:
            return rec
        self.needed.append((arch, self.phase))
        if len(self.needed) >= max(self.ahead, 1):
            return None
        return Assumed(arch, self.phase)

    def judge(self, rec, accepted: bool, reason: str, evidence: dict | None = None) -> None:
        if not isinstance(rec, Assumed):
            self.verdicts.append((rec, accepted, reason, evidence))
        if accepted:
            self.best = rec

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.phases.append((len(self.verdicts), phase))

    @staticmethod
    def unknown(*recs) -> bool:
        return any(isinstance(r, Assumed) for r in recs)

    # -- the four phases: each returns whether it reached its end -------------------------

    def _depth(self) -> bool:
        s, cfg = self.s, self.s.config
        self.set_phase("depth")
        depth = s.space.min_depth
        width = s.start_width
        last = self.get(s.plain(depth, width))
        if last is None:
            return False
        self.judge(last, True, "initial architecture")
        while True:
            if not self.unknown(self.best):
                if cfg.target_acc is not None and s.acc(self.best) >= cfg.target_acc:
                    return True  # target reached
            if depth >= s.space.max_depth:
                return True
            if not self.unknown(last) and last.train_acc >= 100.0:
                return True  # the net already fits the training set
            depth += 1
            last = self.get(s.plain(depth, width))
            if last is None:
                return False
            if s.is_over(last):
                self.judge(last, False, f"depth {depth}: {s.over_reason(last)}: stop")
                return True
            if self.unknown(last, self.best):
                self.judge(last, True, "assumed")
                continue
            if not self._judge_depth(last, depth):
                return True

    def _judge_depth(self, last: CandidateRecord, depth: int) -> bool:
        """Judge one deeper network against the best; False when the depth phase stops.

        The evidence rule stops at the first deeper network without a clear gain."""
        s, cfg, best = self.s, self.s.config, self.best
        ev = s.evidence(last, best)
        if s.by_evidence(ev):
            ok, words = evidence_verdict(ev, last.params - best.params, cfg.l_gain, cfg.l_drop)
            self.judge(last, ok, f"depth {depth}: {words}" + ("" if ok else ": stop"), ev)
            return ok
        gain = s.acc(last) - s.acc(best)
        se = s.se(last, best)
        l_gain, l_drop = s.threshold(cfg.l_gain, se), s.threshold(cfg.l_drop, se)
        note = s.noise(gain, se)
        if gain >= l_gain:
            self.judge(last, True, f"depth {depth} gains {gain:+.2f} >= {l_gain:g}{note}", ev)
        elif gain > -l_drop:
            self.judge(
                last,
                False,
                f"depth {depth}: {gain:+.2f} is short of +{l_gain:g}, "
                f"within -{l_drop:g}: keep growing{note}",
                ev,
            )
        else:
            self.judge(
                last, False, f"depth {depth} drops {gain:+.2f} below -{l_drop:g}: stop{note}", ev
            )
            return False
        return True

    def _width(self) -> bool:
        s, cfg = self.s, self.s.config
        self.set_phase("width")
        ref = self.best
        for width in s.space.widths_down():
            if width >= ref.arch["width"]:
                continue  # the depth phase ran narrower than max_width to fit the budget
            rec = self.get(s.plain(ref.arch["depth"], width))
            if rec is None:
                return False
            if s.is_over(rec):
                self.judge(rec, False, f"width {width}: {s.over_reason(rec)}: skipped")
                continue
            if self.unknown(rec, ref):
                self.judge(rec, True, "assumed")
                continue
            ev = s.evidence(rec, ref)
            if s.by_evidence(ev):
                ok, words = evidence_verdict(ev, rec.params - ref.params, 0.0, cfg.c_drop)
                self.judge(rec, ok, f"width {width}: {words}" + ("" if ok else ": stop"), ev)
                if not ok:
                    break
                continue
            gain = s.acc(rec) - s.acc(ref)  # a drop of less than c_drop is accepted
            se = s.se(rec, ref)
            c_drop, note = s.threshold(cfg.c_drop, se), s.noise(gain, se)
            versus = f"width {width}: {gain:+.2f} against the depth result"
            if -gain < c_drop:
                self.judge(rec, True, f"{versus}, within -{c_drop:g}{note}", ev)
            else:
                self.judge(rec, False, f"{versus}, -{c_drop:g} or worse: stop{note}", ev)
                break
        return True

    def _layer(self, what: str, options: Iterable) -> bool:
        """Layer by layer, try each other op (or kernel); keep one only if it improves the best.
        Under the evidence rule the phase ends with the joint step (``_joint``)."""
        s = self.s
        self.set_phase(what)
        arch = Arch.from_dict(self.best.arch)
        promising: dict[int, tuple[float, object]] = {}  # layer -> (diff, value)
        complete = True  # every change of the phase has a known result
        for i in range(arch.depth):
            for value in options:
                current = arch.ops[i] if what == "op" else arch.kernels[i]
                if value == current:
                    continue
                cand = arch.with_layer(i, **{what: value})
                rec = self.get(cand)
                if rec is None:
                    return False
                if s.is_over(rec):
                    name = change_name(what, [(i, value)])
                    self.judge(rec, False, f"{name}: {s.over_reason(rec)}: skipped")
                    continue
                if self.unknown(rec, self.best):
                    self.judge(rec, False, "assumed")
                    complete = False
                    continue
                kept, ev = self._judge_change(rec, change_name(what, [(i, value)]))
                if kept:
                    arch = cand
                    promising.pop(i, None)
                elif s.by_evidence(ev) and ev["diff"] > 0:
                    if ev["diff"] > promising.get(i, (0.0, None))[0]:
                        promising[i] = (ev["diff"], value)
        if complete and len(promising) >= 2:
            changes = sorted((i, value) for i, (_, value) in promising.items())
            return self._joint(what, arch, changes)
        return True

    def _joint(self, what: str, arch: Arch, changes: list[tuple[int, object]]) -> bool:
        """The evidence rule's joint step: the phase's rejected changes that gained on their
        own (a positive difference, too small for its interval to clear 0) tried together, on
        top of the phase's result, and judged by the same rule. Gains of half a point each,
        which no single comparison resolves, add up; on noise they rarely do."""
        s = self.s
        joint = arch
        for i, value in changes:
            joint = joint.with_layer(i, **{what: value})
        name = change_name(what, changes) + " together"
        rec = self.get(joint)
        if rec is None:
            return False
        if s.is_over(rec):
            self.judge(rec, False, f"{name}: {s.over_reason(rec)}: skipped")
        elif self.unknown(rec, self.best):
            self.judge(rec, False, "assumed")
        else:
            self._judge_change(rec, name)
        return True

    def _judge_change(self, rec: CandidateRecord, name: str) -> tuple[bool, dict | None]:
        """Judge an op or kernel change against the best: (kept, the paired comparison)."""
        s, best = self.s, self.best
        ev = s.evidence(rec, best)
        if s.by_evidence(ev):
            ok, words = evidence_verdict(ev, rec.params - best.params, 0.0, 0.0)
            self.judge(rec, ok, f"{name}: {words}", ev)
            return ok, ev
        gain = s.acc(rec) - s.acc(best)
        se = s.se(rec, best)
        need, note = s.threshold(0.0, se), s.noise(gain, se)
        if gain > need:
            self.judge(rec, True, f"{name} improves {gain:+.2f}{note}", ev)
            return True, ev
        if need > 0 and gain > 0:
            self.judge(rec, False, f"{name}: {gain:+.2f}, not above {need:.2f}{note}", ev)
        else:
            self.judge(rec, False, f"{name}: {gain:+.2f}, no gain{note}", ev)
        return False, ev


def change_name(what: str, changes: list[tuple[int, object]]) -> str:
    """'layer 2 conv', 'layer 3 k5', or 'layers 2 conv, 4 conv' for several."""
    words = [f"{i + 1} {value if what == 'op' else f'k{value}'}" for i, value in changes]
    return ("layer " if len(words) == 1 else "layers ") + ", ".join(words)
