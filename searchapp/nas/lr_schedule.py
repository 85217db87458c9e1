"""When to step how far, and when to stop: the lr schedule and the early-stop rule of a recipe.

Plain arithmetic on step and epoch counts (no torch), asked by the training loop in train.py.
"""

from __future__ import annotations

import math

from .config import Recipe


class Schedule:
    """The learning rate of each optimiser step: linear warmup, then cosine to 0.

    ``anneal`` replaces the rest of it with a straight line from the current lr to 0.
    """

    def __init__(self, recipe: Recipe, batch: int, steps_per_epoch: int):
        self.peak = recipe.lr * batch / recipe.base_batch  # lr scales linearly with the batch
        self.warmup = int(recipe.warmup_epochs * steps_per_epoch)
        self.total = recipe.epochs * steps_per_epoch
        self._anneal: tuple[int, int, float] | None = None  # (first step, steps, lr then)

    def lr(self, step: int) -> float:
        if self._anneal is not None:
            start, steps, lr = self._anneal
            return lr * max(0.0, 1 - (step - start) / steps)
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        t = (step - self.warmup) / max(self.total - self.warmup, 1)
        return 0.5 * self.peak * (1 + math.cos(math.pi * t))  # cosine to 0

    def anneal(self, step: int, steps: int) -> None:
        self._anneal = (step, steps, self.lr(step))


class EarlyStop:
    """The recipe's early stop, asked after every epoch.

    Training ends once train accuracy has stayed at 100% for ``stop_at_full_train_epochs``
    epochs. When test accuracy has not gained ``plateau_delta`` for ``plateau_patience``
    epochs, the schedule anneals to 0 over ``anneal_epochs`` and training ends after them.
    """

    def __init__(self, recipe: Recipe, schedule: Schedule, steps_per_epoch: int):
        self.recipe, self.schedule, self.steps_per_epoch = recipe, schedule, steps_per_epoch
        self.full_streak, self.best_test, self.since_best = 0, -1.0, 0
        self.end_epoch: int | None = None  # set once annealing

    def done(self, epoch: int, step: int, train_acc: float, test_acc: float) -> bool:
        """Whether training ends after ``epoch`` (1-based), which ended at optimiser ``step``."""
        r = self.recipe
        self.full_streak = self.full_streak + 1 if train_acc >= 100.0 else 0
        if r.stop_at_full_train_epochs and self.full_streak >= r.stop_at_full_train_epochs:
            return True
        if self.end_epoch is not None:
            return epoch >= self.end_epoch
        if test_acc > self.best_test + r.plateau_delta:
            self.best_test, self.since_best = test_acc, 0
        else:
            self.since_best += 1
        if not r.plateau_patience or self.since_best < r.plateau_patience:
            return False
        left = r.epochs - epoch
        if left <= 0 or r.anneal_epochs <= 0:
            return True
        n_epochs = min(r.anneal_epochs, left)
        self.schedule.anneal(step, n_epochs * self.steps_per_epoch)
        self.end_epoch = epoch + n_epochs
        return False
