"""Search space: architectures as data, bounds, counts and the Table-1 view."""

import pytest

from searchapp.nas.model import build_model, num_params
from searchapp.nas.space import Arch, SearchSpace, count_macs, count_params, default_stem, table

TABLE1 = Arch(8, 32, ("sep", "conv") * 4, (5, 5, 3, 3, 5, 7, 7, 3))


def test_it_reproduces_the_papers_table_1():
    rows = table(TABLE1, 32)
    assert [(r["layer"], r["ch"], r["dims"], r["stride"], r["op"], r["k"]) for r in rows] == [
        (1, 32, "32x32", 1, "Sep", "5x5"),
        (2, 32, "32x32", 1, "Conv", "5x5"),
        (3, 32, "32x32", 2, "Sep", "3x3"),
        (4, 64, "16x16", 1, "Conv", "3x3"),
        (5, 64, "16x16", 1, "Sep", "5x5"),
        (6, 64, "16x16", 2, "Conv", "7x7"),
        (7, 128, "8x8", 1, "Sep", "7x7"),
        (8, 128, "8x8", 1, "Conv", "3x3"),
    ]


def test_table_1_architecture_has_about_0_65m_parameters():
    assert count_params(TABLE1, 3, 2) == 649_058


@pytest.mark.parametrize("depth", [3, 4, 5, 8, 15])
@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_counted_parameters_equal_the_built_models(depth, stem):
    ops = tuple(("conv", "sep")[i % 2] for i in range(depth))
    kernels = tuple((3, 5, 7)[i % 3] for i in range(depth))
    arch = Arch(depth, 16, ops, kernels, stem)
    assert count_params(arch, 3, 7) == num_params(build_model(arch, 3, 7))


def test_stride_two_and_channel_doubling_at_a_third_and_two_thirds():
    arch = Arch.initial(9, 16)
    specs = arch.layer_specs()
    assert [s["stride"] for s in specs] == [1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert [s["cout"] for s in specs] == [16, 16, 16, 32, 32, 32, 64, 64, 64]
    assert specs[0]["cin"] == 32  # the cifar stem doubles the search width


def test_the_key_is_stable_and_round_trips():
    a = Arch.from_dict(TABLE1.to_dict())
    assert a == TABLE1 and a.key == TABLE1.key
    assert TABLE1.key == (
        '{"depth":8,"kernels":[5,5,3,3,5,7,7,3],"ops":["sep","conv","sep","conv","sep","conv",'
        '"sep","conv"],"stem":"cifar","width":32}'
    )


def test_macs_grow_with_kernel_and_op():
    base = Arch.initial(4, 32)
    assert count_macs(base.with_layer(0, op="conv"), 3, 32, 2) > count_macs(base, 3, 32, 2)
    assert count_macs(base.with_layer(0, kernel=7), 3, 32, 2) > count_macs(base, 3, 32, 2)


def test_imagenet_stem_works_at_28_pixels():
    arch = Arch.initial(6, 16, "imagenet")
    assert table(arch, 64)[0]["dims"] == "28x28"
    assert (
        default_stem(32) == "cifar"
        and default_stem(64) == "cifar"
        and default_stem(224) == "imagenet"
    )


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(depth=0, width=16, ops=(), kernels=()), "depth"),
        (dict(depth=3, width=2, ops=("sep",) * 3, kernels=(3,) * 3), "width"),
        (dict(depth=3, width=16, ops=("sep",) * 2, kernels=(3,) * 3), "ops"),
        (dict(depth=3, width=16, ops=("sep", "sep", "dil"), kernels=(3,) * 3), "dil"),
        (dict(depth=3, width=16, ops=("sep",) * 3, kernels=(3, 4, 3)), "kernel"),
        (dict(depth=3, width=16, ops=("sep",) * 3, kernels=(3,) * 3, stem="resnet"), "stem"),
    ],
)
def test_it_rejects_invalid_architectures_naming_the_value(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Arch(**kwargs)


def test_search_space_bounds_are_validated_and_widths_step_down():
    assert SearchSpace().widths_down() == [48, 32, 16]
    assert SearchSpace(min_width=20).widths_down() == [48, 32]
    with pytest.raises(ValueError, match="min_width"):
        SearchSpace(min_width=64, max_width=32)
    with pytest.raises(ValueError, match="max_depth"):
        SearchSpace(max_depth=99)
