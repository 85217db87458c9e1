"""Algorithm 1, checked exactly with an evaluator whose accuracy is a known function of the arch."""

from __future__ import annotations

import pytest

from searchapp.nas.search import Search, SearchConfig, run_search
from searchapp.nas.settings import SettingError
from searchapp.nas.space import Arch
from tests.builders import assert_same_weights, make_data

# Depth phase at width 64 (all sep, k3):
#   3 -> 80.0 initial; 4 -> 81.0 (+1.0 >= 0.5: accept); 5 -> 81.3 (+0.3: within, keep growing);
#   6 -> 82.0 (+1.0 over best 81: accept); 7 -> 81.7 (-0.3 < -0.25: stop).  D' = 4, D^f = 6.
DEPTH_ACC = {3: 80.0, 4: 81.0, 5: 81.3, 6: 82.0, 7: 81.7, 8: 90.0}
# Width phase at depth 6: 48 drops 0.2 (accept), 32 drops 0.4 (accept), 16 drops 0.6 (stop).
WIDTH_PENALTY = {64: 0.0, 48: 0.2, 32: 0.4, 16: 0.6}
# Op phase: conv helps on even layers (0-based), hurts on odd ones.
OP_BONUS = {0: 0.3, 1: -0.1, 2: 0.3, 3: -0.1, 4: 0.3, 5: -0.1}
# Kernel phase: layer 1 (0-based) prefers 7 over 5; layer 3 prefers 5 (7 hurts); others: no gain.
KERNEL_BONUS = {(1, 5): 0.2, (1, 7): 0.4, (3, 5): 0.2, (3, 7): -0.1}


def known_accuracy(arch: Arch) -> float:
    acc = DEPTH_ACC[arch.depth] - WIDTH_PENALTY[arch.width]
    acc += sum(OP_BONUS.get(i, 0.0) for i, op in enumerate(arch.ops) if op == "conv")
    acc += sum(KERNEL_BONUS.get((i, k), -0.05) for i, k in enumerate(arch.kernels) if k != 3)
    return round(acc, 6)


class Recorder:
    """An evaluator that returns known_accuracy and remembers what it was asked to evaluate."""

    def __init__(self, train_acc=90.0, fail_at: int | None = None):
        self.calls: list[Arch] = []
        self.train_acc = train_acc
        self.fail_at = fail_at

    def __call__(self, arch: Arch, on_epoch) -> dict:
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise RuntimeError("worker killed")
        self.calls.append(arch)
        on_epoch({"epoch": 1, "epochs": 1, "loss": 0.5, "train_acc": 50.0, "test_acc": 50.0})
        train = self.train_acc(arch) if callable(self.train_acc) else self.train_acc
        return {"train_acc": train, "test_acc": known_accuracy(arch)}


def run(evaluator, records=None, **cfg):
    events = []
    config = SearchConfig.from_dict({"rule": "paper", **cfg})
    search = Search(
        config,
        evaluator=evaluator,
        on_event=events.append,
        records=records,
        num_classes=2,
        image_size=32,
    )
    return search.run(), events


def test_it_walks_the_four_phases_in_order():
    result, events = run(Recorder())
    phases = [e["phase"] for e in events if e["type"] == "search.phase"]
    assert phases == ["depth", "width", "op", "kernel"]
    seen = [c["phase"] for c in result.candidates]
    assert seen == sorted(seen, key=["depth", "width", "op", "kernel"].index)


def test_it_evaluates_one_plus_d_plus_w_plus_three_df_candidates():
    result, _ = run(Recorder())
    d_prime = sum(1 for c in result.candidates if c["phase"] == "depth") - 1
    w_prime = sum(1 for c in result.candidates if c["phase"] == "width")
    d_final = 6
    assert (d_prime, w_prime) == (4, 3)
    assert len(result.candidates) == 1 + d_prime + w_prime + 3 * d_final == 26


def test_depth_phase_accepts_gains_keeps_growing_within_drop_and_stops_on_a_drop():
    result, _ = run(Recorder())
    depth = [c for c in result.candidates if c["phase"] == "depth"]
    assert [c["arch"]["depth"] for c in depth] == [3, 4, 5, 6, 7]
    assert [c["accepted"] for c in depth] == [True, True, False, True, False]
    assert "keep growing" in depth[2]["reason"]
    assert "stop" in depth[4]["reason"]
    assert all(c["arch"]["width"] == 64 for c in depth)
    assert all(set(c["arch"]["ops"]) == {"sep"} and set(c["arch"]["kernels"]) == {3} for c in depth)


def test_gain_threshold_is_inclusive_and_drop_threshold_is_strict():
    # exactly +0.5 is accepted; exactly -0.25 stops
    accs = {3: 80.0, 4: 80.5, 5: 80.25}

    def ev(arch, on_epoch):
        return {"train_acc": 90.0, "test_acc": accs[arch.depth] - WIDTH_PENALTY[arch.width] * 10}

    result, _ = run(ev, max_depth=5)
    depth = [c for c in result.candidates if c["phase"] == "depth"]
    assert [c["accepted"] for c in depth] == [True, True, False]
    assert "stop" in depth[2]["reason"]


def test_width_phase_accepts_within_c_drop_of_the_depth_result_and_stops_at_the_first_larger_drop():
    result, _ = run(Recorder())
    width = [c for c in result.candidates if c["phase"] == "width"]
    assert [c["arch"]["width"] for c in width] == [48, 32, 16]
    assert [c["accepted"] for c in width] == [True, True, False]
    assert all(c["arch"]["depth"] == 6 for c in width)


def test_op_phase_keeps_conv_only_where_it_improves():
    result, _ = run(Recorder())
    ops = [c for c in result.candidates if c["phase"] == "op"]
    assert len(ops) == 6
    assert [c["accepted"] for c in ops] == [True, False, True, False, True, False]
    assert result.best["arch"]["ops"] == ["conv", "sep", "conv", "sep", "conv", "sep"]


def test_kernel_phase_tries_5_then_7_and_keeps_the_best_improvement():
    result, _ = run(Recorder())
    kern = [c for c in result.candidates if c["phase"] == "kernel"]
    assert len(kern) == 12
    assert [
        c["arch"]["kernels"][i]
        for i, c in zip([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], kern, strict=True)
    ] == [5, 7] * 6
    assert result.best["arch"]["kernels"] == [3, 7, 3, 5, 3, 3]
    assert result.best["arch"]["width"] == 32 and result.best["arch"]["depth"] == 6
    assert result.best["test_acc"] == pytest.approx(
        known_accuracy(Arch.from_dict(result.best["arch"]))
    )


def test_it_stops_growing_when_train_accuracy_reaches_100():
    result, _ = run(Recorder(train_acc=lambda a: 100.0 if a.depth >= 4 else 95.0))
    depth = [c for c in result.candidates if c["phase"] == "depth"]
    assert [c["arch"]["depth"] for c in depth] == [3, 4]


def test_it_stops_growing_at_max_depth_and_at_the_target():
    result, _ = run(Recorder(), max_depth=5)
    assert [c["arch"]["depth"] for c in result.candidates if c["phase"] == "depth"] == [3, 4, 5]
    result, _ = run(Recorder(), target_acc=81.0)
    assert [c["arch"]["depth"] for c in result.candidates if c["phase"] == "depth"] == [3, 4]


def test_it_never_evaluates_the_same_architecture_twice():
    rec = Recorder()
    result, _ = run(rec)
    keys = [a.key for a in rec.calls]
    assert len(keys) == len(set(keys)) == len(result.candidates)


def test_events_carry_started_epoch_and_finished_for_every_candidate():
    result, events = run(Recorder())
    types = [e["type"] for e in events]
    assert types.count("candidate.started") == len(result.candidates)
    assert types.count("candidate.epoch") == len(result.candidates)
    assert types.count("candidate.finished") == len(result.candidates)
    assert types[-1] == "search.finished"
    finished = [e["candidate"]["index"] for e in events if e["type"] == "candidate.finished"]
    assert finished == list(range(len(result.candidates)))


@pytest.mark.parametrize("k", [1, 5, 9, 20])
def test_it_resumes_after_an_interruption_without_retraining(k):
    full, _ = run(Recorder())
    first = Recorder(fail_at=k)
    saved = []

    def keep(e):
        if e["type"] == "candidate.finished":
            saved.append(e["candidate"])

    with pytest.raises(RuntimeError, match="worker killed"):
        Search(
            SearchConfig(rule="paper"), evaluator=first, on_event=keep, num_classes=2, image_size=32
        ).run()
    assert len(saved) == k
    second = Recorder()
    resumed, events = run(second, records=saved)
    assert len(second.calls) == len(full.candidates) - k  # nothing trained twice
    assert {a.key for a in second.calls}.isdisjoint({c["key"] for c in saved})

    def strip(cs):
        return [{x: c[x] for x in ("index", "key", "test_acc", "accepted", "reason")} for c in cs]  # noqa: E731

    assert strip(resumed.candidates) == strip(full.candidates)
    assert resumed.best["key"] == full.best["key"]
    replayed = [e["candidate"]["replayed"] for e in events if e["type"] == "candidate.finished"]
    assert replayed == [True] * k + [False] * (len(full.candidates) - k)


def test_a_cancelled_search_keeps_what_it_found():
    rec = Recorder()
    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return len(rec.calls) >= 7

    search = Search(
        SearchConfig(rule="paper"),
        evaluator=rec,
        should_stop=should_stop,
        num_classes=2,
        image_size=32,
    )
    result = search.run()
    assert result.cancelled
    assert len(result.candidates) == 7
    assert result.best is not None and result.best["accepted"]


def test_restricted_op_and_kernel_sets_shrink_the_fine_phases():
    result, _ = run(Recorder(), ops=("sep",), kernels=(3, 5))
    assert not [c for c in result.candidates if c["phase"] == "op"]
    assert len([c for c in result.candidates if c["phase"] == "kernel"]) == 6


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"min_depth": 0}, "min_depth"),
        ({"min_depth": 9, "max_depth": 5}, "max_depth"),
        ({"width_step": 128}, "width_step"),
        ({"device": "tpu"}, "device"),
        ({"seed": 1.5}, "seed"),
        ({"max_width": 1000}, "max_width"),
        ({"width_step": 0}, "width_step"),
        ({"l_gain": -1}, "l_gain"),
        ({"recipe": "slow"}, "recipe"),
        ({"kernels": (3, 4)}, "kernels"),
        ({"ops": ("dil",)}, "ops"),
        ({"target_acc": 150}, "target_acc"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_it_rejects_bad_settings_naming_the_field(settings, field):
    with pytest.raises(SettingError, match=field) as caught:
        SearchConfig.from_dict(settings)
    assert caught.value.field == field


def test_config_round_trips_through_a_dict_and_rejects_unknown_keys():
    cfg = SearchConfig.from_dict({"max_depth": 6, "target_acc": 90, "kernels": (3, 5)})
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="bogus"):
        SearchConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="max_depth"):
        SearchConfig.from_dict({"max_depth": "ten"})


# ---- real training on tiny data ---------------------------------------------------------

TINY = dict(
    min_depth=3,
    max_depth=4,
    min_width=8,
    max_width=16,
    width_step=8,
    epochs=1,
    kernels=(3, 5),
    device="cpu",
    seed=3,
    rule="paper",
    folds="1",
)


def test_a_real_search_is_repeatable_with_the_same_seed(tmp_path):
    data = make_data()
    a = run_search(data, SearchConfig.from_dict(TINY))
    b = run_search(data, SearchConfig.from_dict(TINY))

    def metrics(r):
        return [(c["key"], c["train_acc"], c["test_acc"], c["loss_curve"]) for c in r.candidates]  # noqa: E731

    assert metrics(a) == metrics(b)
    assert a.best_state is not None
    assert all(c["device"] == "cpu" and c["epochs"] == 1 for c in a.candidates)


def test_a_real_search_resumes_to_the_same_result_and_weights(tmp_path):
    data = make_data()
    full = run_search(data, SearchConfig.from_dict(TINY), work_dir=tmp_path / "full")
    saved = []

    def on_event(e):
        if e["type"] == "candidate.finished":
            saved.append(e["candidate"])
            if len(saved) == 3:
                raise KeyboardInterrupt  # a crash between candidates

    with pytest.raises(KeyboardInterrupt):
        run_search(
            data, SearchConfig.from_dict(TINY), on_event=on_event, work_dir=tmp_path / "part"
        )
    trained = []
    resumed = run_search(
        data,
        SearchConfig.from_dict(TINY),
        records=saved,
        work_dir=tmp_path / "part",
        on_event=lambda e: trained.append(e) if e["type"] == "candidate.started" else None,
    )
    assert len(trained) == len(full.candidates) - 3
    assert [(c["key"], c["test_acc"]) for c in resumed.candidates] == [
        (c["key"], c["test_acc"]) for c in full.candidates
    ]
    assert resumed.best["key"] == full.best["key"]
    assert_same_weights(resumed.best_state, full.best_state)
