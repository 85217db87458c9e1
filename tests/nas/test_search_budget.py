"""Budgets inside Algorithm 1, checked exactly with test_search's known-accuracy evaluator.

A candidate over budget is never trained: it is recorded (status "over_budget", the figure that
broke the budget in its reason) and counts as a rejection in its phase: the depth phase stops
growing, the width phase skips it, an op or kernel change that does not fit is skipped. The
depth phase runs at the widest width whose shallowest network fits; a search whose smallest
architecture does not fit is refused before anything trains."""

from __future__ import annotations

import pytest

from searchapp.nas.budget import BudgetError
from searchapp.nas.footprint import figures
from searchapp.nas.search import Search, SearchConfig
from searchapp.nas.space import Arch
from tests.nas.test_parallel import Scrambled, accuracy
from tests.nas.test_search import Recorder


def plain(depth, width, op="sep", k=3):
    return Arch(depth, width, (op,) * depth, (k,) * depth)


def fig(arch):
    return figures(arch, 3, 32, 2)


def run(evaluator, **cfg):
    events = []
    s = Search(
        SearchConfig.from_dict(cfg), evaluator=evaluator, on_event=events.append, num_classes=2
    )
    return s.run(), events


def test_the_depth_phase_stops_at_the_first_depth_over_budget():
    # depth 5 fits, depth 6 does not (parameters grow with depth at width 64)
    limit = (fig(plain(5, 64)).params + fig(plain(6, 64)).params) // 2
    rec = Recorder()
    result, _ = run(rec, max_params=limit)
    depth = [c for c in result.candidates if c["phase"] == "depth"]
    assert [c["arch"]["depth"] for c in depth] == [3, 4, 5, 6]
    over = depth[-1]
    assert over["status"] == "over_budget" and not over["accepted"]
    assert "parameters" in over["reason"] and "max_params" in over["reason"]
    assert over["reason"].endswith(": stop")
    assert over["train_acc"] is None and over["test_acc"] is None
    assert plain(6, 64) not in rec.calls  # never trained
    assert result.best["arch"]["depth"] <= 5


def test_no_candidate_the_search_trains_is_over_budget():
    limit = fig(plain(5, 64)).params
    rec = Recorder()
    result, _ = run(rec, max_params=limit)
    assert all(fig(a).params <= limit for a in rec.calls)
    over = [c for c in result.candidates if c["status"] == "over_budget"]
    assert over, "the op phase's conv layers and the depth phase both hit the limit"
    assert all(c["params"] > limit for c in over)
    assert all(not c["accepted"] for c in over)


def test_an_op_change_that_does_not_fit_is_skipped_and_the_phase_goes_on():
    # no width phase (one width); the depth-6 net plus a conv first layer fits, more does not
    base = plain(6, 64)
    first_conv = base.with_layer(0, op="conv")
    limit = fig(first_conv).params
    assert fig(first_conv.with_layer(2, op="conv")).params > limit
    rec = Recorder()
    result, _ = run(rec, max_params=limit, min_width=64)
    assert result.best["arch"]["depth"] == 6
    ops = [c for c in result.candidates if c["phase"] == "op"]
    assert ops[0]["arch"]["ops"][0] == "conv" and ops[0]["accepted"]  # it fits, and helps
    skipped = [c for c in ops if c["status"] == "over_budget"]
    assert skipped, "every later conv layer is over the limit"
    assert all(c["reason"].endswith(": skipped") and "parameters" in c["reason"] for c in skipped)
    assert all(fig(a).params <= limit for a in rec.calls)
    # the kernel phase still ran after the skips
    assert any(c["phase"] == "kernel" for c in result.candidates)


def test_the_depth_phase_starts_at_the_widest_width_that_fits():
    # width 64 at depth 3 is over; width 48 fits
    limit = (fig(plain(3, 48)).params + fig(plain(3, 64)).params) // 2
    rec = Recorder()
    result, _ = run(rec, max_params=limit, max_depth=4)
    first = result.candidates[0]
    assert first["arch"]["width"] == 48 and first["reason"] == "initial architecture"
    widths = [c["arch"]["width"] for c in result.candidates if c["phase"] == "width"]
    assert widths and all(w < 48 for w in widths)
    assert all(a.width <= 48 for a in rec.calls)


def test_a_budget_nothing_fits_is_refused_before_training_with_the_smallest_figures():
    rec = Recorder()
    with pytest.raises(BudgetError) as exc:
        run(rec, max_ram_kb=1)
    msg = str(exc.value)
    assert "smallest" in msg and "KB peak RAM" in msg and "L3 C16" in msg
    assert exc.value.field == "max_ram_kb"
    assert rec.calls == []


def test_a_board_target_sets_ram_and_flash_limits():
    result, _ = run(Recorder(), target="nano33ble")
    budget_ok = [c for c in result.candidates if c["status"] != "over_budget"]
    assert budget_ok
    for c in result.candidates:
        assert c["ram_kb"] > 0 and c["flash_kb"] > 0


@pytest.mark.parametrize("n", [1, 3])
def test_budget_decisions_are_the_same_with_candidates_in_flight(n):
    limit = fig(plain(5, 64)).params
    seq, _ = run(Scrambled(0), max_params=limit)
    par, _ = run(Scrambled(), max_params=limit, parallel=n)
    key = lambda r: sorted(  # noqa: E731
        (c["key"], c["accepted"], c["reason"], c["status"])
        for c in r.candidates
        if not c["speculative"]
    )
    assert key(par) == key(seq)
    assert accuracy(Arch.from_dict(par.best["arch"])) == accuracy(Arch.from_dict(seq.best["arch"]))
