"""Cross-validation folds: how many (K), and which training images each fold validates on.

K = 1 is the single validation split (``val_frac`` of each class, splits.py). With K > 1 every
training image is a validation image exactly once: a candidate trains K models from scratch,
each on the other K - 1 folds, and is scored out of fold on all the training images. K depends
only on the settings and the number of training images, so the web page, the coordinator and
every worker resolve the same K without torch. No torch here; numpy only inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTO = "auto"
MAX_FOLDS = 10
AUTO_STEPS = ((1_000, 5), (10_000, 3))
"""(at most this many training images, folds) for "auto"; above the last: 1 (one split)."""


def parse_folds(value) -> str:
    """ "auto" or a whole number from 1 to MAX_FOLDS, as a string ("5"); ValueError if not."""
    text = str(value).strip().lower() if not isinstance(value, bool) else ""
    if text == AUTO:
        return AUTO
    if text.isdigit() and 1 <= int(text) <= MAX_FOLDS:
        return str(int(text))
    raise ValueError(f"folds must be auto or a whole number from 1 to {MAX_FOLDS}, got {value!r}")


def resolve_folds(folds: str, n_train: int) -> int:
    """K for ``folds`` ("auto" or "1".."10") on ``n_train`` training images.

    "auto": 5 folds up to 1,000 training images, 3 up to 10,000, else 1 (a validation split of
    over 1,000 images), on any device: K is known before a worker is chosen, and the same on
    every worker. Never more folds than training images."""
    folds = parse_folds(folds)
    if folds == AUTO:
        k = next((k for most, k in AUTO_STEPS if n_train <= most), 1)
    else:
        k = int(folds)
    return max(1, min(k, n_train))


def folds_note(folds: str, k: int) -> str:
    """The resolved K in words, for pages and the CLI."""
    if k == 1:
        head = "auto chose 1 fold" if parse_folds(folds) == AUTO else "1 fold"
        return f"{head}: one validation split, 1 training per candidate"
    head = f"auto chose {k} folds" if parse_folds(folds) == AUTO else f"{k} folds"
    return f"{head}: {k} trainings per candidate"


def fold_splits(y, k: int, seed: int) -> list[tuple]:
    """K (train, validation) index pairs into the training images, each sorted: stratified
    (each class spread evenly over the folds) and seeded; every image validates exactly once."""
    import numpy as np

    y = np.asarray(y)
    if not 2 <= k <= MAX_FOLDS:
        raise ValueError(f"fold_splits needs 2 to {MAX_FOLDS} folds, got {k}")
    if len(y) < k:
        raise ValueError(f"{k} folds need at least {k} training images, got {len(y)}")
    rng = np.random.default_rng([seed, 0xF01D])  # not the stream of the other splits
    order = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        order.append(idx)
    fold_of = np.empty(len(y), dtype=np.int64)
    fold_of[np.concatenate(order)] = np.arange(len(y)) % k  # class by class, round robin
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


@dataclass(frozen=True)
class FoldPlan:
    """The selection images of a search: ``splits`` holds K (train, validation) index pairs
    into the training images. ``scored`` lists the images a candidate's selection score (and
    its ``val_hits``) covers, in order: the validation split (K = 1) or all the training
    images (K > 1)."""

    k: int
    splits: tuple
    n_train: int

    @property
    def scored(self):
        import numpy as np

        return self.splits[0][1] if self.k == 1 else np.arange(self.n_train)

    @property
    def n_scored(self) -> int:
        return len(self.splits[0][1]) if self.k == 1 else self.n_train


def make_plan(y, k: int, val_frac: float, seed: int) -> FoldPlan:
    """K = 1: the seeded validation split of ``val_frac``; K > 1: ``fold_splits``."""
    from .splits import validation_indices

    splits = [validation_indices(y, val_frac, seed)] if k == 1 else fold_splits(y, k, seed)
    return FoldPlan(k=k, splits=tuple(splits), n_train=len(y))
