"""Real training with K cross-validation folds and the evidence rule, end to end on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from searchapp.nas.evidence import METHOD, decode_hits
from searchapp.nas.export import write_outputs
from searchapp.nas.search import Search, SearchConfig, run_search
from tests.builders import assert_same_weights, make_data

CONFIG = dict(
    min_depth=1,
    max_depth=3,
    min_width=4,
    max_width=8,
    width_step=4,
    epochs=2,
    seed=5,
    ops=["sep", "conv"],
    kernels=[3],
    final_epochs=1,
    device="cpu",
    folds="2",
    rule="evidence",
)


@pytest.fixture(scope="module")
def data():
    return make_data(n_train=12, n_test=6, size=8, seed=3)


@pytest.fixture(scope="module")
def searched(data, tmp_path_factory):
    events: list[dict] = []
    result = run_search(data, SearchConfig.from_dict(CONFIG), on_event=events.append)
    out = tmp_path_factory.mktemp("out")
    write_outputs(result, data, out)
    return result, events, json.loads((out / "result.json").read_text())


def test_every_candidate_is_scored_out_of_fold_on_every_training_image(data, searched):
    result, _, _ = searched
    n = len(data.y_train)
    for c in result.candidates:
        assert c["folds"] == 2 and sum(c["val_count"]) == n
        hits = decode_hits(c["val_hits"], n)
        assert c["val_acc"] == pytest.approx(100 * hits.mean())
        assert c["epochs"] >= 2  # summed over the folds
        assert sum(c["test_count"]) == len(data.y_test)  # the first fold's model, once


def test_each_judged_candidate_carries_its_paired_evidence(data, searched):
    result, _, saved = searched
    judged = [c for c in result.candidates[1:] if c["status"] == "ok" and not c["speculative"]]
    assert judged
    for c in judged:
        ev = c["evidence"]
        assert ev["method"] == METHOD and ev["n"] == len(data.y_train)
        assert ev["vs"] < c["index"] and ev["ci95"][0] <= ev["diff"] <= ev["ci95"][1]
        assert f"on {len(data.y_train)} images" in c["reason"]
    assert result.candidates[0]["evidence"] is None
    assert saved["folds"] == 2 and saved["config"]["folds"] == "2"
    assert saved["config"]["rule"] == "evidence"
    assert saved["dataset"]["validation"] == len(data.y_train)
    assert saved["candidates"][1]["evidence"] == result.candidates[1]["evidence"]
    assert saved["final"]["test_acc"] is not None  # the final model trains on every image


def test_epoch_events_count_across_the_folds(searched):
    _, events, _ = searched
    first = [e for e in events if e["type"] == "candidate.epoch" and e["index"] == 0]
    assert [(e["fold"], e["epoch"]) for e in first] == [(1, 1), (1, 2), (2, 3), (2, 4)]
    assert {e["epochs"] for e in first} == {4} and {e["folds"] for e in first} == {2}


def test_the_kept_weights_are_the_first_folds_model(data, searched):
    from searchapp.nas.executors import CandidateTrainer, selection_split
    from searchapp.nas.space import Arch

    result, _, _ = searched
    config = SearchConfig.from_dict(CONFIG)
    trainer = CandidateTrainer(config, data, selection_split(config, data))
    again = trainer.weights(Arch.from_dict(result.best["arch"]))
    assert_same_weights(again, result.best_state)


def test_a_resumed_search_replays_fold_records_and_retrains_others(data, searched):
    result, _, _ = searched
    saved = [c for c in result.candidates if not c["speculative"]][:2]
    started = []
    resumed = run_search(
        data,
        SearchConfig.from_dict(CONFIG | {"final_epochs": 0}),
        records=saved,
        on_event=lambda e: started.append(e) if e["type"] == "candidate.started" else None,
    )
    assert len(started) == len(result.candidates) - 2
    keep = ("key", "accepted", "reason", "evidence", "val_hits")
    assert [{k: c[k] for k in keep} for c in resumed.candidates] == [
        {k: c[k] for k in keep} for c in result.candidates
    ]
    search = Search(SearchConfig.from_dict(CONFIG), data=data)
    prior = saved[1]
    assert search._replayable(prior)
    assert not search._replayable(prior | {"folds": 1})  # made on one validation split
    assert not search._replayable(prior | {"val_hits": None})  # no per-image results


def test_folds_and_the_rule_do_not_change_a_search_that_selects_on_test(data):
    config = SearchConfig.from_dict(CONFIG | {"select_on": "test", "final_epochs": 0})
    result = run_search(data, config)
    assert result.folds == 1 and all(c["folds"] == 1 for c in result.candidates)
    assert all(c["val_acc"] is None for c in result.candidates)
    judged = [c for c in result.candidates[1:] if c["evidence"]]
    assert judged and all(c["evidence"]["n"] == len(data.y_test) for c in judged)
    assert np.all([c["test_hits"] for c in result.candidates])
