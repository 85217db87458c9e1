"""One candidate trained on K cross-validation folds and scored out of fold.

Fold f trains a fresh model from scratch, with the candidate's recipe, on the other K - 1 folds
and scores the images of fold f; together the K folds score every training image once. The
candidate's selection score (val_acc, its interval, per-class counts and ``val_hits``) is that
out-of-fold accuracy over all the training images. The first fold's model is the one kept: its
weights, its test figures and its curves. Epochs and seconds are summed over the folds, and the
epoch events count across them (fold f's epoch e is (f - 1) x E + e of K x E).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .evidence import decode_hits, encode_hits
from .folds import FoldPlan


def fold_seed(seed: int, fold: int) -> int:
    """The seed of fold ``fold`` (0-based) of a candidate whose seed is ``seed``; fold 0 keeps
    it, so one fold trains as a single validation split does."""
    return (seed + 1_000_003 * fold) & 0x7FFFFFFF


def _per_fold(on_epoch: Callable[[dict], None] | None, fold: int, k: int):
    """The epoch callback of one fold: epochs counted across the folds."""
    if on_epoch is None:
        return None

    def forward(e: dict) -> None:
        per = e["epochs"]
        on_epoch(
            e | {"epoch": fold * per + e["epoch"], "epochs": k * per, "fold": fold + 1, "folds": k}
        )

    return forward


def train_folds(
    arch,
    plan: FoldPlan,
    full,
    y_train: np.ndarray,
    recipe,
    *,
    seed: int,
    on_epoch: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Train ``arch`` on each fold of ``plan`` (``full``: train.DeviceData of every training
    image); the measured dict of the candidate, with the first fold's ``state_dict``.

    A fold that diverges ends the candidate: it is marked diverged and the folds not trained
    count as wrong."""
    from .train import train_candidate

    n, classes = plan.n_train, full.num_classes
    hits = np.zeros(n, dtype=bool)
    correct = np.zeros(classes, dtype=np.int64)
    results = []
    for f, (train_idx, val_idx) in enumerate(plan.splits):
        res = train_candidate(
            arch,
            full.fold(train_idx, val_idx),
            recipe,
            seed=fold_seed(seed, f),
            device=full.device,
            on_epoch=_per_fold(on_epoch, f, plan.k),
            should_stop=should_stop,
            keep_state=f == 0,
        )
        results.append(res)
        hits[val_idx] = decode_hits(res.val_hits, len(val_idx))
        correct += np.asarray(res.val_correct, dtype=np.int64)
        if res.status == "diverged":
            break
    count = np.bincount(np.asarray(y_train), minlength=classes)
    first = results[0]
    out = first.metrics()
    out.update(
        train_acc=round(float(np.mean([r.train_acc for r in results])), 4),
        val_acc=round(100.0 * int(hits.sum()) / max(n, 1), 4),
        val_correct=correct.tolist(),
        val_count=count.tolist(),
        val_hits=encode_hits(hits),
        epochs=sum(r.epochs for r in results),
        seconds=round(sum(r.seconds for r in results), 3),
        oom_retries=sum(r.oom_retries for r in results),
        status="diverged" if any(r.status == "diverged" for r in results) else "ok",
        folds=plan.k,
    )
    out["state_dict"] = first.state_dict if out["status"] == "ok" else None
    return out
