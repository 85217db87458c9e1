"""Paired evidence: is one candidate better than another on the same images, and how sure?

Both candidates are scored on the same selection images, so their difference is a difference
of paired proportions. Its 95% interval is Newcombe's hybrid score interval for paired data
(Newcombe 1998, "method 10"): the Wilson intervals of the two accuracies combined through the
correlation of the two hit vectors. It is deterministic, closed-form and keeps close to 95%
coverage even with few images on which the two disagree. numpy only, no torch.

Per-image correctness travels as a "hit string": ``np.packbits`` of the hit vector in base64.
Accuracies and differences are in points (percent), as everywhere in the engine.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from .stats import Z95

METHOD = "Newcombe paired score"


def encode_hits(hits) -> str:
    """A boolean hit vector as base64 of its packed bits (8 images a byte)."""
    packed = np.packbits(np.asarray(hits, dtype=bool))
    return base64.b64encode(packed.tobytes()).decode("ascii")


def decode_hits(text: str, n: int) -> np.ndarray:
    """The first ``n`` hits of a hit string (ValueError if it holds fewer)."""
    raw = np.frombuffer(base64.b64decode(text.encode("ascii"), validate=True), dtype=np.uint8)
    if len(raw) * 8 < n or len(raw) > (n + 7) // 8:
        raise ValueError(f"a hit string of {len(raw)} bytes does not hold {n} images")
    return np.unpackbits(raw)[:n].astype(bool)


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of k successes in n, as proportions, unrounded."""
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_paired(
    both: int, only_a: int, only_b: int, neither: int, z: float = Z95
) -> tuple[float, float, float]:
    """(difference, low, high) of accuracy A minus accuracy B, as proportions, from the four
    counts of a paired table: both right, only A right, only B right, both wrong."""
    n = both + only_a + only_b + neither
    if n <= 0:
        raise ValueError("no images to compare")
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = _wilson(both + only_a, n, z)
    l2, u2 = _wilson(both + only_b, n, z)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    phi = (both * neither - only_a * only_b) / math.sqrt(margins) if margins else 0.0
    d = p1 - p2
    lower = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    upper = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    return d, max(-1.0, d - math.sqrt(max(lower, 0.0))), min(1.0, d + math.sqrt(max(upper, 0.0)))


def paired_difference(a, b, z: float = Z95) -> dict:
    """Accuracy of hit vector ``a`` minus that of ``b`` on the same images, in points, with
    its 95% interval: {"diff", "ci95": [lo, hi], "n", "method"} (rounded to 2 decimals)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"hit vectors of different shapes: {a.shape} and {b.shape}")
    both = int(np.count_nonzero(a & b))
    only_a = int(np.count_nonzero(a & ~b))
    only_b = int(np.count_nonzero(~a & b))
    neither = len(a) - both - only_a - only_b
    d, lo, hi = newcombe_paired(both, only_a, only_b, neither, z)
    return {
        "diff": round(100 * d, 2),
        "ci95": [round(100 * lo, 2), round(100 * hi, 2)],
        "n": len(a),
        "method": METHOD,
    }
