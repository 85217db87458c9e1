"""One search on several real RQ workers (parallel > 1), a real Redis, real (tiny) training.

The candidates fan out as jobs on the gpu queue; the result equals the sequential search with
the same seed (same decisions, same final weights); a worker killed while it trains a
candidate costs that candidate only, which is queued again; with a single worker a parallel
search still finishes (its own job trains what nobody else picks up).
"""

from __future__ import annotations

import json

import pytest
import torch

from tests.builders import TINY_SEARCH, assert_same_weights

CONFIG = {**TINY_SEARCH, "epochs": 3, "final_epochs": 0}
FINISH_S = 900  # a hang guard, not an expectation
REQUEUE_S = 120  # generous: a busy machine delays every step


@pytest.fixture(scope="module")
def stack(fault_stack):
    return fault_stack


def _wait_finished(stack, pk) -> dict:
    def done():
        s = stack.search(pk)
        return s if s["status"] in ("finished", "failed", "cancelled") else None

    s = stack.wait_for(done, FINISH_S, f"search {pk} to finish", interval=0.2)
    assert s["status"] == "finished", (s, stack.log_tail())
    return s


def _outcome(stack, pk) -> dict:
    s = stack.search(pk)
    media = stack.root / "media"
    outputs = json.loads(s["outputs"])
    result = json.loads((media / outputs["json"]).read_text())
    weights = torch.load(media / outputs["pt"], weights_only=True)["state_dict"]
    return {"result": result, "weights": weights, "rows": stack.candidates(pk)}


def _decisions(result) -> list[tuple]:
    return sorted(
        (c["key"], c["accepted"], c["reason"]) for c in result["candidates"] if not c["speculative"]
    )


@pytest.fixture(scope="module")
def reference(stack):
    (pk,) = stack.create_searches(stack.dataset, CONFIG)
    worker = stack.start_worker()
    try:
        _wait_finished(stack, pk)
    finally:
        stack.kill_worker(worker)
    return _outcome(stack, pk)


def _assert_same(outcome, reference):
    assert outcome["result"]["best"]["arch"] == reference["result"]["best"]["arch"]
    assert _decisions(outcome["result"]) == _decisions(reference["result"])
    assert_same_weights(
        outcome["weights"], reference["weights"], "weights differ from the sequential run"
    )
    rows = outcome["rows"]
    got = sorted((r["index"], r["record"].get("key"), r["record"].get("reason")) for r in rows)
    want = sorted((c["index"], c["key"], c["reason"]) for c in outcome["result"]["candidates"])
    assert got == want  # each candidate once, as the result has it
    assert all(r["status"] in ("ok", "diverged") for r in rows)


def test_three_workers_share_one_search_and_decide_as_the_sequential_one(stack, reference):
    (pk,) = stack.create_searches(stack.dataset, CONFIG | {"parallel": 3})
    workers = [stack.start_worker() for _ in range(3)]
    try:
        _wait_finished(stack, pk)
    finally:
        for w in workers:
            stack.kill_worker(w)
    outcome = _outcome(stack, pk)
    _assert_same(outcome, reference)
    trained_by = {c["worker"] for c in outcome["result"]["candidates"]}
    assert len(trained_by) >= 2, trained_by  # the coordinator and at least one other worker
    assert outcome["result"]["train_seconds"] > 0
    assert outcome["result"]["wall_seconds"] > 0


def test_a_parallel_search_on_a_single_worker_still_finishes(stack, reference):
    (pk,) = stack.create_searches(stack.dataset, CONFIG | {"parallel": 2})
    worker = stack.start_worker()
    try:
        _wait_finished(stack, pk)
    finally:
        stack.kill_worker(worker)
    outcome = _outcome(stack, pk)
    _assert_same(outcome, reference)
    assert {c["worker"] for c in outcome["result"]["candidates"]} == {"coordinator"}


def _registered(stack, workers) -> list:
    """The RQ registrations of these worker processes (by pid): never a worker that an
    earlier test killed, which stays registered with its old job for a while."""
    from redis import Redis
    from rq import Worker

    pids = {p.pid for p in workers}
    conn = Redis.from_url(stack.env["REDIS_URL"])
    return [w for w in Worker.all(connection=conn) if w.pid in pids]


def _alive(workers, pid: int):
    return next((p for p in workers if p.pid == pid and p.poll() is None), None)


def _candidate_worker(stack, workers):
    """A worker whose work-horse runs a candidate job (not the search's own job)."""
    for w in _registered(stack, workers):
        if (w.get_current_job_id() or "").startswith("candidate-"):
            if proc := _alive(workers, w.pid):
                return proc
    return None


def test_a_worker_killed_during_a_candidate_costs_only_that_candidate(stack, reference):
    (pk,) = stack.create_searches(stack.dataset, CONFIG | {"parallel": 3})
    workers = [stack.start_worker() for _ in range(3)]
    try:
        victim = stack.wait_for(
            lambda: _candidate_worker(stack, workers), FINISH_S, "a worker training a candidate"
        )
        stack.kill_worker(victim)
        _wait_finished(stack, pk)
    finally:
        for w in workers:
            if w.poll() is None:
                stack.kill_worker(w)
    _assert_same(_outcome(stack, pk), reference)


def test_cancel_reaches_every_candidate_in_flight(stack):
    (pk,) = stack.create_searches(stack.dataset, CONFIG | {"parallel": 3, "epochs": 30})
    workers = [stack.start_worker() for _ in range(3)]
    try:

        def two_running():
            return sum(r["status"] == "running" for r in stack.candidates(pk)) >= 2

        stack.wait_for(two_running, FINISH_S, "two candidates training at once", interval=0.2)
        stack.manage(
            "shell", "-c",
            f"from searchapp.models import Search; "
            f"Search.objects.filter(pk={pk}).update(cancel_requested=True)",
        )  # fmt: skip

        def ended():
            s = stack.search(pk)
            return s if s["status"] in ("cancelled", "finished", "failed") else None

        s = stack.wait_for(ended, REQUEUE_S, "the search to stop", interval=0.2)
        assert s["status"] == "cancelled", s

        def idle():  # each of this test's workers is back to waiting: no candidate trains on
            mine = _registered(stack, workers)
            return len(mine) == len(workers) and not any(w.get_current_job_id() for w in mine)

        stack.wait_for(idle, REQUEUE_S, "every worker to drop its candidate", interval=0.2)
        assert all(r["status"] != "running" for r in stack.candidates(pk))
    finally:
        for w in workers:
            if w.poll() is None:
                stack.kill_worker(w)


def _coordinator_worker(stack, workers, pk):
    """The worker whose work-horse runs the search's own job (the coordinator)."""
    job_id = stack.search(pk)["rq_job_id"]
    for w in _registered(stack, workers):
        if w.get_current_job_id() == job_id:
            return _alive(workers, w.pid)
    return None


def test_a_search_survives_the_death_of_its_coordinator(stack, reference):
    (pk,) = stack.create_searches(stack.dataset, CONFIG | {"parallel": 3})
    workers = [stack.start_worker() for _ in range(3)]
    try:

        def coordinator_mid_search():
            done = sum(r["status"] == "ok" for r in stack.candidates(pk))
            return _coordinator_worker(stack, workers, pk) if done >= 2 else None

        victim = stack.wait_for(coordinator_mid_search, FINISH_S, "the search to be under way")
        old_job = stack.search(pk)["rq_job_id"]
        stack.kill_worker(victim)
        stack.wait_for(
            lambda: stack.search(pk)["rq_job_id"] != old_job,
            REQUEUE_S,
            "the search to be re-queued",
        )
        _wait_finished(stack, pk)
    finally:
        for w in workers:
            if w.poll() is None:
                stack.kill_worker(w)
    _assert_same(_outcome(stack, pk), reference)
