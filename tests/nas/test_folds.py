"""Cross-validation folds: how many, which images, and the same answer everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from searchapp.nas.config import SearchConfig
from searchapp.nas.folds import fold_splits, folds_note, make_plan, parse_folds, resolve_folds
from searchapp.nas.settings import SettingError
from searchapp.nas.splits import validation_indices


@pytest.mark.parametrize(
    ("folds", "n_train", "k"),
    [
        ("auto", 400, 5),
        ("auto", 1_000, 5),
        ("auto", 1_001, 3),
        ("auto", 10_000, 3),  # the paper's size: one split of 1,000 is too coarse
        ("auto", 10_001, 1),
        ("auto", 50_000, 1),
        ("auto", 2, 2),  # never more folds than images
        ("7", 400, 7),  # a number given is taken as it is
        ("1", 400, 1),
    ],
)
def test_auto_picks_k_from_the_number_of_training_images(folds, n_train, k):
    assert resolve_folds(folds, n_train) == k


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_every_device_resolves_the_same_k(device):
    # K is fixed before a worker is chosen: the cost check and every worker agree
    config = SearchConfig.from_dict({"folds": "auto", "device": device})
    assert (config.folds_for(400), config.folds_for(5_000), config.folds_for(20_000)) == (5, 3, 1)


def test_selecting_on_test_ignores_the_folds():
    assert SearchConfig.from_dict({"folds": "5"}).folds_for(400) == 5
    assert SearchConfig.from_dict({"folds": "5", "select_on": "test"}).folds_for(400) == 1


@pytest.mark.parametrize("bad", ["0", "11", "x", "-1", "2.5", ""])
def test_a_bad_fold_count_is_refused_naming_the_setting(bad):
    with pytest.raises(
        SettingError, match="folds must be auto or a whole number from 1 to 10"
    ) as e:
        SearchConfig.from_dict({"folds": bad})
    assert e.value.field == "folds"


def test_folds_are_read_from_text_or_numbers_and_stored_as_text():
    assert SearchConfig.from_dict({"folds": 4}).folds == "4"
    assert SearchConfig.from_dict({"folds": " AUTO "}).folds == "auto"
    assert SearchConfig.from_dict({"folds": "04"}).to_dict()["folds"] == "4"
    assert parse_folds(10) == "10"
    defaults = SearchConfig().to_dict()
    assert (defaults["rule"], defaults["folds"]) == ("evidence", "auto")


def test_the_note_says_what_auto_chose():
    assert folds_note("auto", 3) == "auto chose 3 folds: 3 trainings per candidate"
    assert folds_note("5", 5) == "5 folds: 5 trainings per candidate"
    assert folds_note("auto", 1).startswith("auto chose 1 fold: one validation split")


def test_every_training_image_validates_exactly_once_in_stratified_folds():
    y = np.repeat(np.arange(3), [50, 23, 7])
    splits = fold_splits(y, 5, seed=1)
    assert len(splits) == 5
    seen = np.concatenate([val for _, val in splits])
    assert sorted(seen) == list(range(len(y)))  # each image once
    for train, val in splits:
        assert set(train).isdisjoint(val) and len(train) + len(val) == len(y)
        assert list(train) == sorted(train) and list(val) == sorted(val)
        per_class = np.bincount(y[val], minlength=3)
        assert all(abs(per_class - np.bincount(y, minlength=3) / 5) < 1)  # spread evenly
    sizes = [len(val) for _, val in splits]
    assert max(sizes) - min(sizes) <= 1


def test_folds_are_seeded():
    y = np.repeat(np.arange(2), 40)
    a, b = fold_splits(y, 3, seed=4), fold_splits(y, 3, seed=4)
    assert all((x[1] == z[1]).all() for x, z in zip(a, b, strict=True))
    other = fold_splits(y, 3, seed=5)
    assert any((x[1] != z[1]).any() for x, z in zip(a, other, strict=True))
    with pytest.raises(ValueError, match="2 to 10 folds"):
        fold_splits(y, 1, seed=0)


def test_one_fold_is_the_single_validation_split():
    y = np.repeat(np.arange(2), 30)
    plan = make_plan(y, 1, 0.1, seed=2)
    train, val = validation_indices(y, 0.1, seed=2)
    assert plan.k == 1 and (plan.splits[0][0] == train).all() and (plan.scored == val).all()
    assert plan.n_scored == len(val) == 6
    five = make_plan(y, 5, 0.1, seed=2)
    assert five.n_scored == 60 and (five.scored == np.arange(60)).all()
