"""--parallel N: candidates train ahead of Algorithm 1's decisions, the decisions stay the same.

Checked exactly with the known-accuracy evaluator of test_search (in threads that finish in a
scrambled order), and with real training on tiny data in spawned processes."""

from __future__ import annotations

import random
import threading
import time

import pytest

from searchapp.nas.search import NOT_NEEDED, WAITING, Search, SearchConfig, run_search
from searchapp.nas.space import Arch
from tests.builders import assert_same_weights, make_data
from tests.nas.test_search import known_accuracy


def accuracy(arch: Arch) -> float:
    """test_search's known accuracy; look-ahead may also reach depths it does not list."""
    try:
        return known_accuracy(arch)
    except KeyError:
        return 50.0


class Scrambled:
    """known_accuracy after a pseudo-random delay, so parallel candidates finish out of order."""

    def __init__(self, delay: float = 0.02):
        self.delay = delay
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(self, arch: Arch, on_epoch) -> dict:
        with self.lock:
            self.calls.append(arch.key)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(random.Random(arch.key).random() * self.delay)
            on_epoch({"epoch": 1, "epochs": 1, "loss": 0.5, "train_acc": 50.0, "test_acc": 50.0})
            return {"train_acc": 90.0, "test_acc": accuracy(arch)}
        finally:
            with self.lock:
                self.running -= 1


def search(evaluator, parallel: int, records=None, **cfg):
    events: list[dict] = []
    config = SearchConfig.from_dict({"parallel": parallel, "rule": "paper", **cfg})
    s = Search(
        config,
        evaluator=evaluator,
        on_event=events.append,
        records=records,
        num_classes=2,
        image_size=32,
    )
    return s.run(), events


def decisions(result) -> list[tuple]:
    """What Algorithm 1 decided, in order: (arch key, accepted, reason) of needed candidates."""
    needed = [c for c in result.candidates if not c["speculative"]]
    return [(c["key"], c["accepted"], c["reason"]) for c in needed]


@pytest.mark.parametrize("n", [2, 4, 8])
def test_n_in_flight_take_exactly_the_sequential_decisions(n):
    seq, _ = search(Scrambled(0), 1)
    par, _ = search(Scrambled(), n)
    assert sorted(decisions(par)) == sorted(decisions(seq))
    assert par.best["key"] == seq.best["key"]
    assert par.best["arch"] == seq.best["arch"]
    # the sequential run trains nothing ahead; every candidate of it is needed
    assert not any(c["speculative"] for c in seq.candidates)
    assert len(seq.candidates) == 26


def test_the_sequential_run_is_unchanged_in_order_and_indices():
    seq, events = search(Scrambled(0), 1)
    assert [c["index"] for c in seq.candidates] == list(range(26))
    started = [e["index"] for e in events if e["type"] == "candidate.started"]
    finished = [e["candidate"]["index"] for e in events if e["type"] == "candidate.finished"]
    assert started == finished == list(range(26))  # one finished event each, in order
    assert all(e.get("worker") == "local" for e in events if e["type"] == "candidate.started")


def test_candidates_really_train_at_once_and_extras_are_marked_speculative():
    ev = Scrambled(0.05)
    par, events = search(ev, 4)
    assert ev.most >= 2  # more than one in flight at some point
    assert ev.most <= 4  # never more than N
    spec = [c for c in par.candidates if c["speculative"]]
    assert spec, "a look-ahead of 4 trains some candidates the decisions do not need"
    assert all(c["reason"] == NOT_NEEDED and not c["accepted"] for c in spec)
    assert len(par.candidates) == 26 + len(spec)
    assert len({c["index"] for c in par.candidates}) == len(par.candidates)
    assert sorted(ev.calls) == sorted({c["key"] for c in par.candidates})  # each trained once
    workers = {e["worker"] for e in events if e["type"] == "candidate.started"}
    assert len(workers) >= 2


def test_a_result_ahead_of_its_turn_is_announced_then_judged_in_place():
    par, events = search(Scrambled(0.05), 4)
    by_index: dict[int, list[dict]] = {}
    for e in events:
        if e["type"] == "candidate.finished":
            by_index.setdefault(e["candidate"]["index"], []).append(e["candidate"])
    assert set(by_index) == {c["index"] for c in par.candidates}
    waited = [v for v in by_index.values() if len(v) == 2]
    assert waited, "some candidate finished before the decisions reached it"
    for first, last in waited:
        assert first["reason"] == WAITING
        assert last["reason"] != WAITING
    # the last event of each candidate is what the result holds
    final = {i: v[-1] for i, v in by_index.items()}
    for c in par.candidates:
        assert (final[c["index"]]["accepted"], final[c["index"]]["reason"]) == (
            c["accepted"],
            c["reason"],
        )


def test_phases_are_announced_once_in_order():
    _, events = search(Scrambled(), 4)
    phases = [e["phase"] for e in events if e["type"] == "search.phase"]
    assert phases == ["depth", "width", "op", "kernel"]


def test_a_parallel_search_resumes_from_its_records_with_the_same_decisions():
    full, _ = search(Scrambled(), 4)
    seq, _ = search(Scrambled(0), 1)
    # interrupted after its first 10 results (whatever they were)
    first = sorted(full.candidates, key=lambda c: c["index"])[:10]
    ev = Scrambled()
    resumed, _ = search(ev, 4, records=first)
    assert sorted(decisions(resumed)) == sorted(decisions(seq))
    assert not set(ev.calls) & {c["key"] for c in first}  # nothing recorded is trained again


def test_cancel_stops_all_candidates_in_flight():
    stop = threading.Event()
    ev = Scrambled(0.05)
    events: list[dict] = []

    def on_event(e):
        events.append(e)
        if e["type"] == "candidate.finished" and len(events) > 12:
            stop.set()

    config = SearchConfig.from_dict({"parallel": 3, "rule": "paper"})
    s = Search(config, evaluator=ev, on_event=on_event, should_stop=stop.is_set, num_classes=2)
    result = s.run()
    assert result.cancelled
    assert len(ev.calls) < 26
    assert all(c["status"] != "running" for c in result.candidates)


def test_parallel_is_a_setting_with_bounds():
    from searchapp.nas.settings import SettingError

    with pytest.raises(SettingError) as exc:
        SearchConfig.from_dict({"parallel": 0})
    assert exc.value.field == "parallel"


def test_real_training_in_processes_gives_the_same_architecture_and_weights(tmp_path):
    """N = 1 in this process and N = 2 in two spawned processes, one thread each; each
    candidate trains on 2 cross-validation folds (the processes get the same folds)."""
    import torch

    data = make_data(n_train=12, n_test=6, size=8, seed=3)
    cfg = dict(
        min_depth=1,
        max_depth=3,
        min_width=4,
        max_width=8,
        width_step=4,
        epochs=1,
        seed=5,
        ops=["sep"],
        kernels=[3, 5],
        final_epochs=0,
        device="cpu",
        folds="2",
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seq = run_search(data, SearchConfig.from_dict(cfg | {"parallel": 1}))
        par = run_search(data, SearchConfig.from_dict(cfg | {"parallel": 2}))
    finally:
        torch.set_num_threads(threads)
    assert par.best["arch"] == seq.best["arch"]
    assert sorted(decisions(par)) == sorted(decisions(seq))
    assert {c["worker"] for c in par.candidates} - {"local"}
    assert_same_weights(par.best_state, seq.best_state)
    assert all(c["folds"] == 2 for c in par.candidates)
