"""Seeded, stratified splits of labelled images: train/test, and validation out of train.

Each depends only on the labels, the share and the seed, so a resumed search (or a worker on
another machine) carves the same split.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

MIN_VAL_PER_CLASS = 2


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    """Seeded per-class split; each class keeps at least one image on each side."""
    tr, te = split_indices(y, test_fraction, seed)
    return x[tr], y[tr], x[te], y[te]


def split_indices(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test indices of a seeded per-class split (see stratified_split)."""
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        if len(idx) < 2:
            raise DataError(
                f"class {int(c)} has {len(idx)} image; need at least 2 to split off a test set"
            )
        n_test = min(max(1, round(len(idx) * test_fraction)), len(idx) - 1)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


def validation_indices(
    y: np.ndarray, val_frac: float, seed: int, min_per_class: int = MIN_VAL_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) indices into the training images: a seeded, stratified split.

    Each class gives ``round(n * val_frac)`` images to validation, at least ``min_per_class``,
    and keeps at least one for training."""
    if not 0 < val_frac < 1:
        raise DataError(f"val_frac must be in (0, 1), got {val_frac}")
    rng = np.random.default_rng([seed, 0x5A1])  # not the same stream as the train/test split
    train_idx, val_idx = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        if len(idx) < min_per_class + 1:
            raise DataError(
                f"class {int(c)} has {len(idx)} training images; a validation split needs at "
                f"least {min_per_class + 1} per class ({min_per_class} to validate, 1 to train)"
                " - add images, or select on test"
            )
        n_val = min(max(min_per_class, round(len(idx) * val_frac)), len(idx) - 1)
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(val_idx))
