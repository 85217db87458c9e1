"""Trainer: learns, is repeatable, survives OOM by halving the batch, marks divergence."""

import ast
import dataclasses
import inspect
import math
from dataclasses import replace

import pytest
import torch

from searchapp.nas import train as train_mod
from searchapp.nas.augment import Augment, channel_stats, random_crop, random_flip
from searchapp.nas.lr_schedule import EarlyStop, Schedule
from searchapp.nas.space import Arch
from searchapp.nas.train import Cancelled, get_recipe, train_candidate
from tests.builders import make_data

ARCH = Arch.initial(3, 8)


def test_it_learns_a_visible_pattern():
    res = train_candidate(
        ARCH, make_data(n_train=40, n_test=20), get_recipe("fast", epochs=20), seed=0, device="cpu"
    )
    assert res.status == "ok" and res.epochs <= 20
    assert res.test_acc >= 80.0, res
    assert res.loss_curve[-1] < res.loss_curve[0]
    assert res.params > 0 and res.macs > 0 and res.device == "cpu"
    assert res.state_dict is not None


def test_same_seed_same_metrics_different_seed_different_metrics():
    data = make_data()
    recipe = get_recipe("paper", epochs=2)
    a = train_candidate(ARCH, data, recipe, seed=5, device="cpu")
    b = train_candidate(ARCH, data, recipe, seed=5, device="cpu")
    c = train_candidate(ARCH, data, recipe, seed=6, device="cpu")
    assert a.loss_curve == b.loss_curve and a.test_acc == b.test_acc
    assert a.loss_curve != c.loss_curve


def test_paper_recipe_matches_the_paper():
    r = get_recipe("paper")
    assert (r.epochs, r.batch_size, r.lr, r.momentum, r.weight_decay) == (300, 64, 0.025, 0.9, 3e-4)
    assert not r.mixed_precision and r.label_smoothing == 0


def test_it_reports_every_epoch_and_stops_when_asked():
    seen = []
    with pytest.raises(Cancelled):
        train_candidate(
            ARCH,
            make_data(),
            get_recipe("paper", epochs=5),
            device="cpu",
            on_epoch=seen.append,
            should_stop=lambda: len(seen) >= 2,
        )
    assert [e["epoch"] for e in seen] == [1, 2]
    assert set(seen[0]) == {"epoch", "epochs", "loss", "train_acc", "test_acc"}


def test_out_of_memory_halves_the_batch_and_the_candidate_completes(monkeypatch):
    real = train_mod._train_once
    batches = []

    def flaky(make_model, dd, recipe, batch, *args):
        batches.append(batch)
        if batch > 8:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(make_model, dd, recipe, batch, *args)

    monkeypatch.setattr(train_mod, "_train_once", flaky)
    res = train_candidate(
        ARCH, make_data(), get_recipe("paper", epochs=1, batch_size=32), device="cpu"
    )
    assert batches == [32, 16, 8]
    assert res.oom_retries == 2 and res.batch_size == 8 and res.status == "ok"


def test_other_errors_are_not_mistaken_for_oom(monkeypatch):
    monkeypatch.setattr(
        train_mod, "_train_once", lambda *a: (_ for _ in ()).throw(RuntimeError("boom"))
    )
    with pytest.raises(RuntimeError, match="boom"):
        train_candidate(ARCH, make_data(), get_recipe("paper", epochs=1), device="cpu")


def test_a_non_finite_loss_marks_the_candidate_diverged():
    recipe = get_recipe("paper", epochs=3)
    recipe = replace(recipe, lr=1e30)
    res = train_candidate(ARCH, make_data(), recipe, device="cpu")
    assert res.status == "diverged"
    assert res.test_acc == 0.0 and res.state_dict is None
    assert res.loss_curve[-1] is None or not math.isfinite(res.loss_curve[-1])


def test_a_plateau_anneals_the_lr_to_zero_over_a_few_epochs_then_stops():
    recipe = replace(
        get_recipe("fast", epochs=30),
        plateau_patience=2,
        stop_at_full_train_epochs=0,
        anneal_epochs=3,
    )
    res = train_candidate(ARCH, make_data(), recipe, seed=0, device="cpu")
    best, since, plateau_at = -1.0, 0, None
    for epoch, acc in enumerate(res.test_curve, start=1):
        if acc > best + recipe.plateau_delta:
            best, since = acc, 0
        else:
            since += 1
        if since >= 2:
            plateau_at = epoch
            break
    assert plateau_at is not None and plateau_at + 3 <= 30
    assert res.epochs == plateau_at + 3


def test_the_schedule_warms_up_decays_by_cosine_and_anneals_on_request():
    recipe = replace(get_recipe("fast", epochs=10), lr=0.1, base_batch=64, warmup_epochs=1.0)
    s = Schedule(recipe, batch=128, steps_per_epoch=4)  # peak 0.2, 4 warmup steps of 40
    assert [s.lr(i) for i in range(4)] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert s.lr(4) == pytest.approx(0.2) and s.lr(22) == pytest.approx(0.1)
    assert s.lr(39) == pytest.approx(0.0, abs=1e-3)
    s.anneal(22, 4)  # from 0.1 down to 0 in a straight line over 4 steps
    assert [round(s.lr(i), 6) for i in (22, 23, 24, 25, 26, 30)] == [0.1, 0.075, 0.05, 0.025, 0, 0]


def test_early_stop_at_full_train_accuracy_and_after_a_plateau_and_its_anneal():
    full = replace(get_recipe("fast", epochs=30), stop_at_full_train_epochs=2, plateau_patience=0)
    rule = EarlyStop(full, Schedule(full, 64, 10), 10)
    train_accs = [100, 99, 100, 100]
    stops = [rule.done(e, 10 * e, acc, 50.0) for e, acc in enumerate(train_accs, 1)]
    assert stops == [False, False, False, True]

    flat = replace(full, stop_at_full_train_epochs=0, plateau_patience=2, anneal_epochs=3)
    schedule = Schedule(flat, 64, 10)
    rule = EarlyStop(flat, schedule, 10)
    test_accs = [50, 60, 60, 60, 60, 60, 60]  # no gain after epoch 2: anneal over epochs 5..7
    stops = [rule.done(e, 10 * e, 90.0, acc) for e, acc in enumerate(test_accs, 1)]
    assert stops == [False] * 6 + [True]
    assert schedule.lr(40) > 0 and schedule.lr(70) == 0.0


def test_fast_recipe_shrinks_the_batch_for_small_datasets():
    assert train_mod.effective_batch(get_recipe("fast"), 400) == 32
    assert train_mod.effective_batch(get_recipe("fast"), 48) == 8
    assert train_mod.effective_batch(get_recipe("fast"), 10_000) == 256
    assert train_mod.effective_batch(get_recipe("paper"), 400) == 64


def test_augmentation_crops_flips_and_normalises_on_the_device():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    assert random_crop(x, 0) is x
    assert random_crop(x, 2, g).shape == x.shape
    flipped = random_flip(x.repeat(64, 1, 1, 1), g)
    n_flipped = sum(
        not torch.equal(f, o) for f, o in zip(flipped, x.repeat(64, 1, 1, 1), strict=True)
    )
    assert 10 < n_flipped < 118
    u8 = torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8)
    mean, std = channel_stats(u8)
    out = Augment(mean, std, pad=0, flip=False)(u8, train=False)
    assert out.dtype == torch.float32 and abs(out.mean().item()) < 0.05
    assert Augment(mean, std, resize_to=32)(u8, train=True, generator=g).shape == (16, 3, 32, 32)


def test_unknown_recipe_and_bad_epochs_are_refused():
    with pytest.raises(ValueError, match="recipe"):
        get_recipe("turbo")
    with pytest.raises(ValueError, match="epochs"):
        get_recipe("fast", epochs=0)


def test_a_training_run_fills_in_every_field_of_its_result():
    # Result's fields come from the candidate record: one added there must be set by training
    tree = ast.parse(inspect.getsource(train_mod._train_once))
    (call,) = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Result"
    ]
    given = {k.arg for k in call.keywords}
    assert given == {f.name for f in dataclasses.fields(train_mod.Result)}
