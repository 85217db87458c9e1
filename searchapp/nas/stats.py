"""Uncertainty of accuracies measured on a finite split: Wilson intervals and the noise of a
difference. Plain arithmetic, no torch (the web process uses it too).

Accuracies are in percent (0-100) throughout, as everywhere in the engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson(correct: int, n: int, z: float = Z95) -> list[float] | None:
    """The Wilson score interval of ``correct`` successes in ``n`` trials, as [low, high] in
    percent (rounded to 2 decimals); None when nothing was scored."""
    if not n:
        return None
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [round(100 * max(0.0, centre - half), 2), round(100 * min(1.0, centre + half), 2)]


def interval(correct: Sequence[int] | None, count: Sequence[int] | None) -> list[float] | None:
    """The Wilson interval of per-class correct counts over per-class image counts."""
    if not correct or not count:
        return None
    return wilson(int(sum(correct)), int(sum(count)))


def diff_se(acc_a: float, n_a: int, acc_b: float, n_b: int) -> float | None:
    """Standard error (percent points) of the difference of two accuracies (percent) measured
    on ``n_a`` and ``n_b`` images, as independent proportions; None when a count is unknown."""
    if not n_a or not n_b:
        return None
    pa, pb = acc_a / 100, acc_b / 100
    return 100 * math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)


def per_class(correct: Sequence[int], count: Sequence[int], classes: Sequence[str]) -> dict:
    """{class: accuracy in percent} (None for a class with no images)."""
    return {
        c: (round(100 * k / n, 2) if n else None)
        for c, k, n in zip(classes, correct, count, strict=True)
    }
