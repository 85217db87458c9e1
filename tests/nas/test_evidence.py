"""Paired evidence: the difference of two candidates' accuracies on the same images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from searchapp.nas.evidence import (
    METHOD,
    decode_hits,
    encode_hits,
    newcombe_paired,
    paired_difference,
)
from searchapp.nas.stats import Z95


def test_hit_strings_round_trip_and_refuse_the_wrong_length():
    hits = np.random.default_rng(0).random(37) < 0.7
    text = encode_hits(hits)
    assert len(text) <= 8 and (decode_hits(text, 37) == hits).all()
    with pytest.raises(ValueError, match="does not hold"):
        decode_hits(text, 41)  # 5 bytes hold at most 40 images
    with pytest.raises(ValueError, match="does not hold"):
        decode_hits(text, 20)  # scored on other images: 3 bytes would do


def test_identical_vectors_differ_by_zero_with_an_interval_around_zero():
    hits = np.array([True] * 36 + [False] * 4)
    ev = paired_difference(hits, hits)
    assert ev["diff"] == 0 and ev["n"] == 40 and ev["method"] == METHOD
    lo, hi = ev["ci95"]
    assert lo == -hi and lo <= 0 <= hi and hi < 10  # 40 images cannot rule out a few points
    half = np.array([True, False] * 20)
    assert paired_difference(half, half)["ci95"] == [0.0, 0.0]  # degenerate at 50%


def test_disagreements_all_one_way_exclude_zero():
    b = np.array([True] * 60 + [False] * 40)
    a = b.copy()
    a[60:72] = True  # a is also right on 12 images where b is wrong, never the reverse
    ev = paired_difference(a, b)
    assert ev["diff"] == 12.0
    assert 0 < ev["ci95"][0] < 12 < ev["ci95"][1]
    back = paired_difference(b, a)  # the same comparison the other way round
    assert back["diff"] == -12.0 and back["ci95"] == [-ev["ci95"][1], -ev["ci95"][0]]


def test_a_few_images_either_way_on_a_small_split_do_not_decide():
    b = np.array([True] * 30 + [False] * 10)
    a = b.copy()
    a[30:34] = True  # +4 images
    a[0:2] = False  # -2 images: +5 points on 40 images
    ev = paired_difference(a, b)
    assert ev["diff"] == 5.0 and ev["ci95"][0] < 0 < ev["ci95"][1]


def test_with_many_images_it_agrees_with_the_normal_approximation():
    n, only_a, only_b = 100_000, 6_000, 4_000
    d, lo, hi = newcombe_paired(80_000, only_a, only_b, n - 90_000)
    wald = Z95 * math.sqrt((only_a + only_b) / n - ((only_a - only_b) / n) ** 2) / math.sqrt(n)
    assert d == pytest.approx(0.02)
    assert lo == pytest.approx(d - wald, abs=2e-4) and hi == pytest.approx(d + wald, abs=2e-4)


@pytest.mark.parametrize(
    ("n", "cells"),
    [
        (40, (0.60, 0.15, 0.10, 0.15)),  # a small validation split
        (400, (0.70, 0.08, 0.05, 0.17)),  # out of fold on 400 images
        (200, (0.45, 0.05, 0.05, 0.45)),  # no true difference
    ],
)
def test_the_interval_covers_the_true_difference_about_95_percent_of_the_time(n, cells):
    rng = np.random.default_rng(2024)
    true = cells[1] - cells[2]
    tables = rng.multinomial(n, cells, size=2000)
    covered = 0
    for both, only_a, only_b, neither in tables:
        _, lo, hi = newcombe_paired(int(both), int(only_a), int(only_b), int(neither))
        covered += lo <= true <= hi
    assert 0.93 <= covered / len(tables) <= 0.97


def test_vectors_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="different shapes"):
        paired_difference(np.ones(3, bool), np.ones(4, bool))
    with pytest.raises(ValueError, match="no images"):
        newcombe_paired(0, 0, 0, 0)
