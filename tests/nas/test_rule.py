"""The decision rule: evidence (a change must show its gain) against the paper's thresholds,
on candidates whose per-image results are known."""

from __future__ import annotations

import random
import time
import zlib

import numpy as np
import pytest

from searchapp.nas.cost import max_candidates
from searchapp.nas.evidence import METHOD, encode_hits
from searchapp.nas.search import NOT_NEEDED, Search, SearchConfig
from searchapp.nas.space import Arch, SearchSpace
from tests.nas.test_search import known_accuracy

DEPTH_ONLY = {"min_depth": 3, "max_depth": 4, "min_width": 16, "max_width": 16, "ops": ("sep",)}
DEPTH_ONLY |= {"kernels": (3,)}
WIDTH_ONLY = {"min_depth": 3, "max_depth": 3, "min_width": 8, "max_width": 16, "width_step": 8}
WIDTH_ONLY |= {"ops": ("sep",), "kernels": (3,)}


def hits_of(right: int, n: int, flips: tuple = ()) -> np.ndarray:
    """The first ``right`` of ``n`` images right, then each index in ``flips`` flipped."""
    hits = np.arange(n) < right
    hits[list(flips)] = ~hits[list(flips)]
    return hits


class Hits:
    """An evaluator reporting a hit vector per architecture (by depth and width): the
    selection accuracy and its per-image results on the same validation images."""

    def __init__(self, table: dict, delay: float = 0.0):
        self.table, self.delay, self.calls = table, delay, []

    def __call__(self, arch: Arch, on_epoch) -> dict:
        self.calls.append(arch.key)
        if self.delay:
            time.sleep(random.Random(arch.key).random() * self.delay)
        hits = self.table.get((arch.depth, arch.width))
        if hits is None:  # a look-ahead or fine-phase candidate: known_accuracy's rank
            hits = np.random.default_rng(zlib.crc32(arch.key.encode())).random(400) < 0.8
        n = len(hits)
        return {
            "train_acc": 90.0,
            "val_acc": round(100 * hits.mean(), 4),
            "val_correct": [int(hits.sum()), 0],
            "val_count": [n, 0],
            "val_hits": encode_hits(hits),
            "test_acc": known_accuracy(arch) if arch.width in (16, 32, 48, 64) else 50.0,
        }


def run(evaluator, rule="evidence", records=None, **cfg):
    config = SearchConfig.from_dict({"rule": rule, **cfg})
    search = Search(config, evaluator=evaluator, records=records, num_classes=2, image_size=32)
    return search.run()


# A deeper network right on 4 more of 40 images and wrong on 2 the shallower one got: +5 points.
SHALLOW, DEEPER = hits_of(30, 40), hits_of(30, 40, flips=(30, 31, 32, 33, 0, 1))


def test_a_five_point_gain_on_40_images_does_not_buy_a_deeper_network():
    result = run(Hits({(3, 16): SHALLOW, (4, 16): DEEPER}), **DEPTH_ONLY)
    first, deeper = result.candidates
    assert deeper["val_acc"] - first["val_acc"] == 5.0
    ev = deeper["evidence"]
    assert (ev["vs"], ev["diff"], ev["n"], ev["method"]) == (0, 5.0, 40, METHOD)
    assert ev["ci95"][0] < 0.5 < ev["ci95"][1]  # the interval does not lie above L_gain
    assert not deeper["accepted"] and result.best["index"] == 0
    assert deeper["reason"].startswith("depth 4: +5.0 points [")
    assert "on 40 images: not enough for" in deeper["reason"]
    assert "more parameters" in deeper["reason"] and deeper["reason"].endswith(": stop")
    assert first["evidence"] is None  # the initial architecture is compared with nothing


def test_the_paper_rule_takes_the_same_five_points_as_it_always_did():
    result = run(Hits({(3, 16): SHALLOW, (4, 16): DEEPER}), rule="paper", **DEPTH_ONLY)
    deeper = result.candidates[1]
    assert deeper["accepted"] and result.best["index"] == 1
    assert deeper["reason"].startswith("depth 4 gains +5.00 >= 0.5")
    assert deeper["evidence"]["diff"] == 5.0  # shown beside the paper's decision


def test_a_clear_gain_is_accepted():
    deeper = hits_of(300, 400, flips=range(300, 340))  # right on 40 more images of 400
    result = run(Hits({(3, 16): hits_of(300, 400), (4, 16): deeper}), **DEPTH_ONLY)
    assert result.candidates[1]["accepted"]
    assert "a clear gain (above +0.5) for" in result.candidates[1]["reason"]


def test_a_narrower_network_without_a_clear_loss_is_accepted():
    wide = hits_of(150, 200)
    narrow = hits_of(150, 200, flips=(0, 1, 2, 150, 151))  # -3 +2 images: -0.5 points
    table = {(3, 16): wide, (3, 8): narrow}
    result = run(Hits(table), **WIDTH_ONLY)
    width = result.candidates[1]
    assert width["evidence"]["diff"] == -0.5 and width["evidence"]["ci95"][0] < 0
    assert width["evidence"]["ci95"][1] > 0
    assert width["accepted"] and result.best["arch"]["width"] == 8
    assert (
        "no clear loss (beyond -0.5)" in width["reason"] and "fewer parameters" in width["reason"]
    )
    paper = run(Hits(table), rule="paper", **WIDTH_ONLY)
    assert not paper.candidates[1]["accepted"]  # a drop of 0.5 is not within C_drop 0.5


def test_a_narrower_network_with_a_clear_loss_is_rejected():
    table = {(3, 16): hits_of(180, 200), (3, 8): hits_of(140, 200)}
    result = run(Hits(table), **WIDTH_ONLY)
    assert not result.candidates[1]["accepted"] and result.best["arch"]["width"] == 16
    assert "a clear loss (beyond -0.5)" in result.candidates[1]["reason"]


def test_without_per_image_results_the_evidence_rule_falls_back_to_the_thresholds():
    plain = run(lambda a, e: {"train_acc": 90.0, "test_acc": known_accuracy(a)})
    paper = run(lambda a, e: {"train_acc": 90.0, "test_acc": known_accuracy(a)}, rule="paper")
    assert [c["accepted"] for c in plain.candidates] == [c["accepted"] for c in paper.candidates]
    assert all(c["evidence"] is None for c in plain.candidates)
    assert all("no per-image results" in c["reason"] for c in plain.candidates[1:])


@pytest.mark.parametrize("n", [2, 4])
def test_candidates_in_flight_take_the_sequential_evidence_decisions(n):
    def decided(result):
        key_of = {c["index"]: c["key"] for c in result.candidates}
        out = []
        for c in result.candidates:
            ev = dict(c["evidence"] or {})
            if ev:  # indices differ when candidates train ahead; the incumbent does not
                ev["vs"] = key_of[ev["vs"]]
            if not c["speculative"]:
                out.append((c["key"], c["accepted"], c["reason"], str(ev)))
        return sorted(out)

    seq = run(Hits({}), max_depth=6)
    par = run(Hits({}, delay=0.02), parallel=n, max_depth=6)
    assert decided(par) == decided(seq)
    assert par.best["key"] == seq.best["key"]
    assert all(c["reason"] == NOT_NEEDED for c in par.candidates if c["speculative"])


def test_a_resumed_search_replays_the_hits_and_takes_the_same_decisions():
    full = run(Hits({}), max_depth=6)
    first = full.candidates[:4]
    again = Hits({})
    resumed = run(again, records=first, max_depth=6)
    assert not set(again.calls) & {c["key"] for c in first}
    keep = ("key", "accepted", "reason", "evidence", "val_hits")
    assert [{k: c[k] for k in keep} for c in resumed.candidates] == [
        {k: c[k] for k in keep} for c in full.candidates
    ]


def scored(hits: np.ndarray) -> dict:
    """An evaluator's result for these per-image hits on the validation images."""
    return {
        "train_acc": 90.0,
        "val_acc": round(100 * hits.mean(), 4),
        "val_correct": [int(hits.sum()), 0],
        "val_count": [len(hits), 0],
        "val_hits": encode_hits(hits),
        "test_acc": 50.0,
    }


class SmallGains:
    """1,000 validation images, 850 right with every layer sep; conv in layer i turns 20
    wrong images right and 12 right ones wrong (its own images): +0.8 points, an interval
    across 0. Conv in several layers adds their flips up."""

    GAINERS = (0, 1, 2)  # layers where conv gains; elsewhere it loses 0.8 points

    def __init__(self):
        self.calls = []

    def __call__(self, arch: Arch, on_epoch) -> dict:
        self.calls.append(arch)
        hits = np.arange(1000) < 850
        for i, op in enumerate(arch.ops):
            if op == "conv":
                wrong, right = 850 + 30 * i + np.arange(20), 100 * i + np.arange(12)
                if i not in self.GAINERS:
                    wrong, right = wrong[:12], right.tolist() + list(range(400, 408))
                hits[wrong], hits[right] = True, False
        return scored(hits)


OPS_ONLY = {"min_depth": 4, "max_depth": 4, "min_width": 16, "max_width": 16}
OPS_ONLY |= {"ops": ("sep", "conv"), "kernels": (3,)}


def test_small_gains_no_single_comparison_resolves_are_tried_together():
    result = run(SmallGains(), **OPS_ONLY)
    singles, joint = result.candidates[1:5], result.candidates[5]
    for c in singles:
        assert not c["accepted"] and c["evidence"]["ci95"][0] < 0
    assert [c["evidence"]["diff"] for c in singles] == [0.8, 0.8, 0.8, -0.8]
    assert joint["arch"]["ops"] == ["conv", "conv", "conv", "sep"]
    assert joint["evidence"]["vs"] == 0 and joint["evidence"]["diff"] == 2.4
    assert joint["evidence"]["ci95"][0] > 0 and joint["accepted"]
    assert joint["phase"] == "op" and joint["reason"].startswith(
        "layers 1 conv, 2 conv, 3 conv together: +2.4 points ["
    )
    assert result.best["index"] == 5 and len(result.candidates) == 6


def test_the_joint_step_takes_only_changes_that_gained_and_needs_two_of_them():
    SmallGains.GAINERS = (1,)
    try:
        result = run(SmallGains(), **OPS_ONLY)
    finally:
        SmallGains.GAINERS = (0, 1, 2)
    assert len(result.candidates) == 5 and result.best["index"] == 0  # one gainer: no joint


def test_the_paper_rule_has_no_joint_step_and_keeps_its_bound():
    result = run(SmallGains(), rule="paper", **OPS_ONLY)
    assert [c["accepted"] for c in result.candidates] == [True, True, True, True, False]
    assert len(result.candidates) == 1 + 4 == max_candidates(SearchSpace(**OPS_ONLY), "paper")


@pytest.mark.parametrize("seed", range(6))
def test_an_evidence_search_stays_within_its_bound_with_the_joint_steps(seed):
    space = {"min_depth": 3, "max_depth": 4, "min_width": 16, "max_width": 32, "width_step": 16}

    def random_hits(arch: Arch, on_epoch) -> dict:
        rng = np.random.default_rng([seed, zlib.crc32(arch.key.encode())])
        hits = rng.random(400) < rng.uniform(0.7, 0.9)
        return scored(hits)

    result = run(random_hits, **space)
    bound = max_candidates(SearchSpace(**space), "evidence")
    assert bound == max_candidates(SearchSpace(**space), "paper") + 2
    assert len(result.candidates) <= bound
