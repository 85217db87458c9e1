"""The cost bound of a search: images x epochs x MACs of the largest network x candidates."""

from __future__ import annotations

import pytest

from searchapp.nas.config import SearchConfig
from searchapp.nas.cost import Cost, estimate, largest_arch, max_candidates, pmac
from searchapp.nas.search import Search
from searchapp.nas.space import Arch, SearchSpace, count_macs


def test_the_papers_space_has_at_most_1_plus_d_plus_w_plus_3_df_candidates():
    # D' = 15 - 3 deeper nets, W' = 3 narrower (48, 32, 16), 3 per layer of D^f = 15
    assert max_candidates(SearchSpace()) == 1 + 12 + 3 + 3 * 15


def test_fewer_ops_and_kernels_mean_fewer_candidates_per_layer():
    space = SearchSpace(min_depth=3, max_depth=5, ops=("sep",), kernels=(3, 5))
    assert max_candidates(space) == 1 + 2 + 3 + 1 * 5


def _greedy(arch: Arch, width_cost: float = 0.01) -> float:
    """Deeper, conv and larger kernels do better and narrower loses `width_cost` per channel:
    with the default nothing stops early."""
    conv = sum(op == "conv" for op in arch.ops)
    return 10 * arch.depth - width_cost * (64 - arch.width) + 0.1 * conv + 0.01 * sum(arch.kernels)


def _evaluated(config: SearchConfig, **greedy) -> list[Arch]:
    archs = []

    def evaluator(arch, on_epoch):
        archs.append(arch)
        return {"train_acc": 50.0, "test_acc": _greedy(arch, **greedy)}

    Search(config, evaluator=evaluator, num_classes=2, image_size=32).run()
    return archs


@pytest.mark.parametrize(
    "space",
    [
        {},
        {"min_depth": 4, "max_depth": 6, "min_width": 8, "max_width": 40, "width_step": 8},
        {"max_depth": 5, "ops": ["conv"], "kernels": [3, 7]},
    ],
)
def test_a_search_that_never_stops_early_evaluates_exactly_the_bound(space):
    config = SearchConfig.from_dict(space)
    assert len(_evaluated(config)) == max_candidates(config.space)


def test_no_candidate_costs_more_than_the_largest_network_and_the_last_one_can_be_it():
    config = SearchConfig.from_dict({"max_depth": 6})
    largest = count_macs(largest_arch(config.space, "cifar"), image_size=32, num_classes=2)
    for width_cost in (0.01, 1.0):  # narrower nets accepted, or the width stays at its maximum
        macs = [
            count_macs(a, image_size=32, num_classes=2)
            for a in _evaluated(config, width_cost=width_cost)
        ]
        assert max(macs) <= largest
    assert macs[-1] == largest


def test_the_largest_network_is_deepest_widest_conv_with_the_largest_kernel():
    arch = largest_arch(SearchSpace(max_depth=6, max_width=48, kernels=(3, 5)), "cifar")
    assert (arch.depth, arch.width, set(arch.ops), set(arch.kernels)) == (6, 48, {"conv"}, {5})
    sep_only = largest_arch(SearchSpace(ops=("sep",)), "imagenet")
    assert set(sep_only.ops) == {"sep"} and sep_only.stem == "imagenet"


def test_blank_epochs_take_the_recipes():
    fast = estimate(SearchConfig.from_dict({}), images=100, image_size=32, num_classes=2)
    paper = estimate(SearchConfig.from_dict({"recipe": "paper"}), 100, 32, 2)
    given = estimate(SearchConfig.from_dict({"epochs": 7}), 100, 32, 2)
    assert (fast.epochs, paper.epochs, given.epochs) == (30, 300, 7)
    assert paper.total == 10 * fast.total


def test_the_stem_follows_the_image_size_unless_set():
    small = estimate(SearchConfig.from_dict({}), 100, 64, 2)
    large = estimate(SearchConfig.from_dict({}), 100, 128, 2)
    forced = estimate(SearchConfig.from_dict({"stem": "imagenet"}), 100, 64, 2)
    # the imagenet stem trains at 224 px whatever the stored size
    assert large.macs == forced.macs != small.macs


def test_the_issues_hostile_search_costs_far_more_than_a_default_one():
    hostile = SearchConfig.from_dict(
        {"max_depth": 30, "max_width": 512, "epochs": 1000, "recipe": "paper"}
    )
    big = estimate(hostile, images=1600, image_size=64, num_classes=2)
    default = estimate(SearchConfig.from_dict({}), images=1600, image_size=64, num_classes=2)
    assert big.candidates == 1 + 27 + 31 + 3 * 30 + 2  # and the two joint steps
    assert big.search > 10_000 * default.search
    assert big.total > 9_000 * default.total  # each with its final training (1,000 and 90 epochs)


def test_the_total_is_the_product_and_reads_in_pmac():
    cost = Cost(images=1600, epochs=1000, macs=1_578_513_747_968, candidates=149)
    assert cost.total == 1600 * 1000 * 1_578_513_747_968 * 149
    assert cost.describe() == (
        "376,318 PMAC (1,600 images x 1,000 epochs x 1.58e+12 MACs x 149 candidates)"
    )
    assert pmac(2.5e13) == "0.025 PMAC"


def test_the_final_training_is_counted_once_on_all_the_training_images():
    cost = Cost(images=1600, epochs=1000, macs=1_578_513_747_968, candidates=149, final_epochs=1000)
    assert cost.final == 1600 * 1000 * 1_578_513_747_968  # one network, train + validation
    assert cost.total == cost.search + cost.final == 1600 * 1_578_513_747_968 * (149 + 1) * 1000
    assert cost.describe() == (
        "378,843 PMAC (1,600 images x 1,000 epochs x 1.58e+12 MACs x 149 candidates, "
        "then a final training of 1,000 epochs)"
    )


@pytest.mark.parametrize(
    ("settings", "final"),
    [
        ({}, 90),  # the default: the search recipe with 3x its 30 epochs
        ({"epochs": 7}, 21),
        ({"epochs": 500}, 1000),  # 3x, at most the epochs limit
        ({"final_epochs": 12}, 12),
        ({"final_recipe": "paper"}, 300),  # the paper trains its final networks for 300
        ({"final_recipe": "paper", "final_epochs": 40}, 40),
        ({"final_epochs": 0}, 0),  # skipped
    ],
)
def test_the_estimate_counts_the_final_recipes_epochs(settings, final):
    config = SearchConfig.from_dict(settings)
    cost = estimate(config, images=100, image_size=32, num_classes=2)
    assert cost.final_epochs == final
    trainings = cost.epochs * cost.candidates * cost.folds
    assert cost.total == cost.images * cost.macs * (trainings + final)
    recipe = config.final_training()
    assert (recipe.epochs if recipe else 0) == final  # what the search will train


def test_skipping_the_final_training_lowers_the_estimate_by_that_training():
    full = estimate(SearchConfig.from_dict({}), images=400, image_size=32, num_classes=2)
    skip = estimate(SearchConfig.from_dict({"final_epochs": 0}), 400, 32, 2)
    assert full.total - skip.total == 400 * 90 * full.macs
    assert "then a final training of 90 epochs" in full.describe()
    assert "final" not in skip.describe()


def test_k_folds_multiply_the_candidates_trainings_by_k():
    one = estimate(SearchConfig.from_dict({"folds": "1"}), images=400, image_size=32, num_classes=2)
    auto = estimate(SearchConfig.from_dict({"folds": "auto"}), 400, 32, 2)
    three = estimate(SearchConfig.from_dict({"folds": "3"}), 400, 32, 2)
    assert (one.folds, auto.folds, three.folds) == (1, 5, 3)
    assert auto.search == 5 * one.search and auto.final == one.final
    assert three.search == 3 * one.search
    assert " candidates x 5 folds, then a final training" in auto.describe()
    assert "folds" not in one.describe()
    on_test = estimate(SearchConfig.from_dict({"select_on": "test"}), 400, 32, 2)
    assert on_test.folds == 1  # the paper's way has no validation images to fold
