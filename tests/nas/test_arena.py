"""TFLM's tensor arena from the op list: the greedy memory planner by hand, and the parts."""

from __future__ import annotations

import pytest

from searchapp.nas import arena
from searchapp.nas.arena import align, arena_bytes, arena_parts, plan_bytes
from searchapp.nas.footprint import ops
from searchapp.nas.space import Arch


def test_a_chain_needs_its_largest_neighbouring_pair():
    # a -> b -> c -> d: a lives [0, 1], b [1, 2], c [2, 3], d [3, 3]
    assert plan_bytes([(64, 0, 1), (256, 1, 2), (32, 2, 3), (128, 3, 3)]) == 256 + 64
    assert plan_bytes([(16, 0, 0)]) == 16 and plan_bytes([]) == 0


def test_ties_place_the_later_buffer_first_as_tflm_does():
    # Sorted by size, the later of two equal buffers goes first: t3 at 0, t2 above it. Then the
    # 18496-byte PAD output fits at 0 beside neither, and t4 goes over t3, not over both.
    bufs = [(32768, 2, 3), (32768, 3, 4), (16384, 4, 5), (18496, 5, 6)]
    assert plan_bytes(bufs) == 65536  # what TFLM's head is for this chain (measured)
    # the same buffers added the other way round leave a gap t4 does not fit in
    assert plan_bytes([bufs[1], bufs[0], *bufs[2:]]) == 81920


def test_a_buffer_fills_a_gap_between_others_alive_at_the_same_time():
    # big (0..100) and mid (100..150) overlap in time; small fits in no gap below them
    bufs = [(100, 0, 2), (50, 1, 2), (40, 2, 3), (60, 3, 3)]
    # 100 at 0; 60 [3,3] overlaps only 40's time: at 0; 50 [1,2] above 100 -> 100..150;
    # 40 [2,3] overlaps 100, 60 and 50 -> above 150
    assert plan_bytes(bufs) == 190


def test_the_arena_is_the_tail_plus_the_larger_of_head_and_planning():
    small = ops(Arch(3, 8, ("sep", "conv", "sep"), (3, 3, 5), "cifar"), 3, 8, 2)
    parts = arena_parts(small)
    assert parts["total"] == parts["tail"] + max(parts["head"], parts["planning"])
    assert parts["head"] % arena.ALIGN == 0 and parts["head"] >= 2 * 1024  # 16 ch x 8 x 8, twice
    # many tensors, tiny activations: TFLM's planning tables outgrow the plan itself
    deep = ops(Arch(15, 8, ("sep",) * 15, (3,) * 15, "cifar"), 3, 8, 2)
    d = arena_parts(deep)
    assert d["planning"] > d["head"] and d["total"] == d["tail"] + d["planning"]


def test_cmsis_nn_adds_its_scratch_buffers_and_only_those():
    plain = ops(Arch.initial(3, 16), 3, 32, 10)  # 3x3 depthwise and 1x1 convs: no scratch...
    assert arena_bytes(plain, "cmsis-nn") - arena_bytes(plain) <= 64  # ... but the stem's
    big = ops(Arch(3, 64, ("conv",) * 3, (7,) * 3, "cifar"), 3, 8, 100)
    # two int16 im2col columns of the 7x7 conv of layer 2 (128 channels in) dominate: on 2 x 2
    # pixels it is larger than the activations, so the head grows by most of it
    scratch = 4 * align(7 * 7 * 128)
    extra = arena_bytes(big, "cmsis-nn") - arena_bytes(big)
    assert scratch - 4 * 1024 <= extra <= sum(align(o.scratch_bytes) for o in big) + 64
    with pytest.raises(ValueError):
        arena_bytes(plain, "esp-nn")
