"""Decisions on a validation split, their noise, and the final model's results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from searchapp.nas.data import DataError, split_indices, validation_indices
from searchapp.nas.export import load_checkpoint, write_outputs
from searchapp.nas.search import Search, SearchConfig, final_results, run_search
from searchapp.nas.space import Arch
from searchapp.nas.stats import diff_se, interval, wilson
from tests.builders import assert_same_weights, make_data
from tests.nas.test_search import TINY, known_accuracy

# ---- the validation split ------------------------------------------------------------------


def test_the_validation_split_is_disjoint_stratified_and_seeded():
    y = np.repeat(np.arange(3), [50, 20, 5])
    train, val = validation_indices(y, 0.1, seed=7)
    assert set(train).isdisjoint(val) and sorted([*train, *val]) == list(range(len(y)))
    assert np.bincount(y[val]).tolist() == [5, 2, 2]  # 10%, at least 2 per class
    assert np.bincount(y[train]).tolist() == [45, 18, 3]
    again = validation_indices(y, 0.1, seed=7)
    assert all((a == b).all() for a, b in zip(again, (train, val), strict=True))
    other = validation_indices(y, 0.1, seed=8)
    assert not (other[1] == val).all()


def test_a_folder_without_a_test_split_gets_train_validation_and_test():
    y = np.repeat(np.arange(2), 40)
    train, test = split_indices(y, 0.2, seed=0)
    rest, val = validation_indices(y[train], 0.1, seed=0)
    parts = [set(train[rest]), set(train[val]), set(test)]
    assert sum(map(len, parts)) == len(y) and set().union(*parts) == set(range(len(y)))
    assert all(a.isdisjoint(b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    for part in parts:
        assert np.bincount(y[list(part)]).tolist()[0] == np.bincount(y[list(part)]).tolist()[1]


def test_too_few_images_for_a_validation_split_is_a_clear_error():
    with pytest.raises(DataError, match="select on test"):
        validation_indices(np.array([0, 0, 0, 1, 1]), 0.1, seed=0)


# ---- intervals -----------------------------------------------------------------------------


def test_wilson_intervals_match_published_values():
    assert wilson(81, 263) == [25.53, 36.62]  # Newcombe (1998), example 1
    assert wilson(81, 100) == [72.22, 87.49]
    assert wilson(0, 10) == [0.0, 27.75]
    assert wilson(10, 10) == [72.25, 100.0]
    assert wilson(0, 0) is None
    assert interval([40, 41], [50, 50]) == wilson(81, 100)
    assert diff_se(50, 100, 50, 100) == pytest.approx(100 * np.sqrt(0.25 / 50))
    assert diff_se(50, 0, 50, 100) is None


# ---- decisions read the selection split ------------------------------------------------------


class TwoSplits:
    """Validation follows known_accuracy; test disagrees (its mirror image)."""

    def __init__(self, n_val=None):
        self.n_val = n_val

    def __call__(self, arch: Arch, on_epoch) -> dict:
        val = known_accuracy(arch)
        out = {"train_acc": 90.0, "val_acc": val, "test_acc": round(200 - 2 * val, 6)}
        if self.n_val:
            half = self.n_val // 2
            k = round(val / 100 * self.n_val)
            out |= {"val_correct": [k - k // 2, k // 2], "val_count": [half, half]}
        return out


def _run(evaluator, **cfg):
    config = SearchConfig.from_dict({"rule": "paper", **cfg})
    search = Search(config, evaluator=evaluator, num_classes=2, image_size=32)
    return search.run()


def test_decisions_read_validation_not_test():
    on_val = _run(TwoSplits())
    plain = _run(lambda arch, on_epoch: {"train_acc": 90.0, "test_acc": known_accuracy(arch)})
    assert on_val.selection_split == "validation"
    # the path is the one known_accuracy gives, though test says the opposite every time
    assert [c["key"] for c in on_val.candidates] == [c["key"] for c in plain.candidates]
    assert on_val.best["val_acc"] == plain.best["test_acc"]
    on_test = _run(TwoSplits(), select_on="test")
    assert on_test.selection_split == "test"
    assert [c["key"] for c in on_test.candidates] != [c["key"] for c in on_val.candidates]


def test_reasons_say_whether_a_difference_is_within_the_noise():
    result = _run(TwoSplits(n_val=40))
    reasons = [c["reason"] for c in result.candidates[1:]]
    assert all("the validation noise, ±" in r for r in reasons)
    assert all("within" in r for r in reasons)  # 1-point gains on 40 images are noise
    first = result.candidates[0]
    assert first["val_ci95"] == interval(first["val_correct"], first["val_count"])
    big = _run(TwoSplits(n_val=10**6))
    assert any("beyond the validation noise" in c["reason"] for c in big.candidates)


def test_noise_aware_thresholds_widen_to_the_standard_error():
    paper = _run(TwoSplits(n_val=40))
    aware = _run(TwoSplits(n_val=40), noise_aware=True, max_depth=8)
    # +1 point at depth 4 passes L_gain = 0.5 but not a standard error of ~9 points
    assert paper.candidates[1]["accepted"] and not aware.candidates[1]["accepted"]
    assert sum(c["accepted"] for c in aware.candidates) < sum(
        c["accepted"] for c in paper.candidates
    )
    # with a huge split the standard error is tiny: the paper's thresholds rule again
    huge = _run(TwoSplits(n_val=10**6), noise_aware=True)
    assert [c["accepted"] for c in huge.candidates] == [
        c["accepted"] for c in _run(TwoSplits(n_val=10**6)).candidates
    ]


# ---- real training: the split, the final model ------------------------------------------------


def test_a_real_search_selects_on_validation_and_trains_a_final_model(tmp_path):
    data = make_data()
    result = run_search(data, SearchConfig.from_dict(TINY | {"final_epochs": 2}))
    c = result.candidates[0]
    assert c["val_acc"] is not None and c["test_acc"] is not None
    assert sum(c["val_count"]) == result.dataset["validation"] == 4  # 2 per class
    assert sum(c["test_count"]) == len(data.y_test)
    assert c["val_ci95"] == interval(c["val_correct"], c["val_count"])
    assert c["val_curve"] and not c["test_curve"]  # early stop read validation only
    assert result.dataset["search_train"] == len(data.y_train) - 4

    final = result.final
    for key in ("test_acc", "test_ci95", "val_acc", "epochs", "recipe", "per_class"):
        assert key in final
    assert final["epochs"] == 2 and final["recipe"] == "fast"
    assert final["classes"] == data.classes and set(final["per_class"]) == set(data.classes)
    matrix = np.array(final["confusion_matrix"])
    assert matrix.sum() == len(data.y_test)
    assert np.trace(matrix) / matrix.sum() * 100 == pytest.approx(final["test_acc"])
    for m in final["misclassified"]:
        assert data.classes[data.y_test[m["index"]]] == m["true"] != m["pred"]
        assert 0 < m["confidence"] <= 1
    assert len(final["misclassified"]) == matrix.sum() - np.trace(matrix)
    assert set(final["per_class_val"]) == set(data.classes)

    paths = write_outputs(result, data, tmp_path)
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["selection_split"] == "validation" and saved["final"] == final
    model, ckpt = load_checkpoint(paths["weights"])
    assert ckpt["final"] and ckpt["test_acc"] == final["test_acc"]
    assert_same_weights(model.net.state_dict(), result.final_state)


def test_selecting_on_test_trains_on_every_training_image_as_before():
    data = make_data()
    result = run_search(
        data, SearchConfig.from_dict(TINY | {"select_on": "test", "final_epochs": 0})
    )
    assert result.selection_split == "test" and result.final is None
    assert "validation" not in result.dataset
    for c in result.candidates:
        assert c["val_acc"] is None and c["test_curve"] and not c["val_curve"]
    assert result.model_state is result.best_state


def test_final_results_shape_from_known_probabilities():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 1, 0])
    best = {"val_acc": 75.0, "val_correct": [1, 2], "val_count": [2, 2], "test_acc": 50.0}
    recipe = SearchConfig().final_training()
    out = final_results(probs, y, ["a", "b"], best, recipe, 90)
    assert out["confusion_matrix"] == [[1, 1], [1, 1]]
    assert out["per_class"] == {"a": 50.0, "b": 50.0}
    assert out["per_class_val"] == {"a": 50.0, "b": 100.0}
    assert out["test_ci95"] == wilson(2, 4)
    assert [m["index"] for m in out["misclassified"]] == [3, 2]  # most confident first
    assert out["misclassified"][0] == {"index": 3, "true": "a", "pred": "b", "confidence": 0.7}
