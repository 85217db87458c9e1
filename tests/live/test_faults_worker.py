"""Crashes with real RQ workers in subprocesses, a real Redis and real (tiny) training on CPU.

kill -9 of the work-horse, of the whole worker, and a Redis restart, each in the middle of a
candidate: the search is picked up again, nothing is lost or duplicated, finished candidates
are not trained again, and the result equals an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import torch

from tests.builders import TINY_SEARCH, assert_same_weights

CONFIG = {**TINY_SEARCH, "epochs": 3}
COMPARED = ("index", "key", "phase", "train_acc", "test_acc", "loss_curve", "test_curve",
            "epochs", "batch_size", "status", "accepted", "reason")  # fmt: skip
KILL_AT = 2  # kill while candidate 2 trains: 0 and 1 are finished by then
FINISH_S = 900  # a hang guard: a real search on a busy machine takes what it takes
REQUEUE_S = 120  # generous: a worker starting on a busy machine takes a while


@pytest.fixture(scope="module")
def stack(fault_stack):
    return fault_stack


def _lease_key(pk: int) -> str:
    return f"mininas:search:{pk}:lease"


@pytest.fixture(scope="module")
def reference(stack):
    """An uninterrupted run with the same data and seed: its candidates and weights."""
    (pk,) = stack.create_searches(stack.dataset, CONFIG)
    worker = stack.start_worker()
    try:
        _wait_finished(stack, pk)
    finally:
        stack.kill_worker(worker)
    return _outcome(stack, pk)


def _wait_finished(stack, pk, timeout=FINISH_S) -> dict:
    def done():
        s = stack.search(pk)
        return s if s["status"] in ("finished", "failed", "cancelled") else None

    s = stack.wait_for(done, timeout, f"search {pk} to finish", interval=0.2)
    assert s["status"] == "finished", (s, stack.log_tail())
    return s


def _outcome(stack, pk) -> dict:
    s = stack.search(pk)
    media = stack.root / "media"
    outputs = json.loads(s["outputs"])
    result = json.loads((media / outputs["json"]).read_text())
    weights = torch.load(media / outputs["pt"], weights_only=True)
    return {"search": s, "result": result, "weights": weights, "rows": stack.candidates(pk)}


def _assert_same_as_reference(outcome, reference):
    got = [{k: c.get(k) for k in COMPARED} for c in outcome["result"]["candidates"]]
    want = [{k: c.get(k) for k in COMPARED} for c in reference["result"]["candidates"]]
    assert got == want
    assert outcome["result"]["best"]["arch"] == reference["result"]["best"]["arch"]
    assert outcome["result"]["best"]["test_acc"] == reference["result"]["best"]["test_acc"]
    a, b = outcome["weights"]["state_dict"], reference["weights"]["state_dict"]
    assert_same_weights(a, b, "weights differ from the uninterrupted run")
    # the database holds each candidate once, numbered 0..n-1, all finished
    rows = outcome["rows"]
    assert [r["index"] for r in rows] == list(range(len(want)))
    assert all(r["status"] in ("ok", "diverged") for r in rows)


def _running(stack, pk, index):
    rows = stack.candidates(pk)
    return any(r["index"] == index and r["status"] == "running" for r in rows)


def _finished_records(stack, pk, below):
    return {r["index"]: r["record"] for r in stack.candidates(pk) if r["index"] < below}


def test_a_killed_work_horse_is_resumed_without_retraining(stack, reference):
    (pk,) = stack.create_searches(stack.dataset, CONFIG)
    worker = stack.start_worker()
    try:
        stack.wait_for(lambda: _running(stack, pk, KILL_AT), FINISH_S, "candidate 2 to start")
        before = _finished_records(stack, pk, KILL_AT)
        old_job = stack.search(pk)["rq_job_id"]
        (horse,) = stack.horses(worker)
        lease = stack.key_events(_lease_key(pk))
        killed = time.monotonic()
        os.kill(horse, signal.SIGKILL)
        # the worker drops the dead horse's lease at once: deleted, not left to run out
        assert lease.wait(("del", "expired"), REQUEUE_S) == "del"
        stack.wait_for(
            lambda: stack.search(pk)["rq_job_id"] != old_job,
            REQUEUE_S,
            "the search to be re-queued",
        )
        reclaimed = time.monotonic() - killed
        _wait_finished(stack, pk)
        assert worker.poll() is None  # the worker itself lived on
    finally:
        stack.kill_worker(worker)
    outcome = _outcome(stack, pk)
    # candidates 0..k-1 were replayed from the database, not trained again (same seconds)
    after = _finished_records(stack, pk, KILL_AT)
    assert len(before) == KILL_AT and after == before
    _assert_same_as_reference(outcome, reference)
    print(f"\nhorse kill: re-queued after {reclaimed:.2f}s")


def test_a_killed_worker_is_reclaimed_after_a_restart(stack, reference):
    (pk,) = stack.create_searches(stack.dataset, CONFIG)
    worker = stack.start_worker()
    stack.wait_for(lambda: _running(stack, pk, KILL_AT), FINISH_S, "candidate 2 to start")
    before = _finished_records(stack, pk, KILL_AT)
    old_job = stack.search(pk)["rq_job_id"]
    lease = stack.key_events(_lease_key(pk))
    stack.kill_worker(worker)  # worker and horse, both -9: nobody marks anything
    killed = time.monotonic()
    assert stack.search(pk)["status"] == "running"
    worker = stack.start_worker()
    try:
        # nobody releases the lease: it runs out (3 s here), then a reconcile re-queues
        assert lease.wait(("del", "expired"), REQUEUE_S) == "expired"
        stack.wait_for(
            lambda: stack.search(pk)["rq_job_id"] != old_job,
            REQUEUE_S,
            "the search to be re-queued",
        )
        reclaimed = time.monotonic() - killed
        _wait_finished(stack, pk)
    finally:
        stack.kill_worker(worker)
    assert _finished_records(stack, pk, KILL_AT) == before
    _assert_same_as_reference(_outcome(stack, pk), reference)
    print(f"\nworker kill: re-queued {reclaimed:.2f}s after the kill")


def test_a_redis_restart_loses_and_duplicates_nothing(stack, reference, redis_server):
    (pk,) = stack.create_searches(stack.dataset, CONFIG)
    worker = stack.start_worker()
    try:
        stack.wait_for(lambda: _running(stack, pk, KILL_AT), FINISH_S, "candidate 2 to start")
        job = stack.search(pk)["rq_job_id"]
        redis_server.stop()  # everything in Redis is gone: queue, job, lease, groups
        time.sleep(0.5)
        redis_server.start()
        _wait_finished(stack, pk)
        assert stack.search(pk)["rq_job_id"] == job  # never re-queued: the job lived on
    finally:
        stack.kill_worker(worker)
    _assert_same_as_reference(_outcome(stack, pk), reference)
