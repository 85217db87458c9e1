"""Faults inside a job, run by a real RQ worker (SimpleWorker, in this process) on a real Redis:
out of memory, a non-finite loss, a job timeout, a full disk, Cancel mid-training, and the
same search queued twice.
"""

from __future__ import annotations

import errno
import time
import types

import django_rq
import pytest
import torch
from rq.worker import SimpleWorker

from searchapp.models import Search
from searchapp.storage import media_path, search_dir
from searchapp.tasks import broadcast
from searchapp.tasks import search as search_task
from searchapp.tasks.lease import Lease

pytestmark = pytest.mark.django_db(transaction=True)


def _enqueue(search, job_timeout=None) -> str:
    """Queue the search as enqueue_search does (no on_commit wait in these tests)."""
    job_id = f"search-{search.pk}-{time.monotonic_ns() % 10**8:08d}"
    Search.objects.filter(pk=search.pk).update(rq_job_id=job_id)
    django_rq.get_queue("gpu").enqueue(
        search_task.run_search_job,
        search.pk,
        job_id=job_id,
        job_timeout=job_timeout or 3600,
    )
    return job_id


def _work() -> SimpleWorker:
    queue = django_rq.get_queue("gpu")
    worker = SimpleWorker([queue], connection=queue.connection)
    worker.work(burst=True)
    return worker


@pytest.fixture
def sent(monkeypatch):
    """Every message the job broadcasts, in order."""
    out = []
    monkeypatch.setattr(broadcast, "publish", lambda sid, msg: out.append(msg))
    return out


def _set(search, **settings):
    Search.objects.filter(pk=search.pk).update(settings={**search.settings, **settings})
    search.refresh_from_db()


# ----------------------------------------------------------------------------- training faults


def test_a_simulated_cuda_oom_halves_the_batch_and_the_candidate_completes(search, monkeypatch):
    from searchapp.nas import train

    real = train._train_once
    calls = []

    def once(make_model, dd, recipe, batch, *args, **kwargs):
        calls.append(batch)
        if len(calls) == 1:  # the first candidate's first try
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(make_model, dd, recipe, batch, *args, **kwargs)

    monkeypatch.setattr(train, "_train_once", once)
    _enqueue(search)
    _work()
    search.refresh_from_db()
    assert search.status == "finished", search.error
    first = search.candidates.get(index=0)
    assert first.status == "ok"
    assert first.record["oom_retries"] == 1
    assert calls[1] == calls[0] // 2 == first.batch_size


def test_a_non_finite_loss_marks_the_candidate_diverged_and_the_search_goes_on(search, monkeypatch):
    from searchapp.nas import executors, train

    poisoned = {"on": False}
    real_ce = torch.nn.functional.cross_entropy

    def cross_entropy(*args, **kwargs):
        loss = real_ce(*args, **kwargs)
        return loss * float("nan") if poisoned["on"] else loss

    monkeypatch.setattr(train, "F", types.SimpleNamespace(cross_entropy=cross_entropy))
    real_train = executors.CandidateTrainer.__call__

    def _train(self, arch, on_epoch):
        poisoned["on"] = arch.depth == 4  # candidate 1: the first deeper net
        try:
            return real_train(self, arch, on_epoch)
        finally:
            poisoned["on"] = False

    monkeypatch.setattr(executors.CandidateTrainer, "__call__", _train)
    _enqueue(search)
    _work()
    search.refresh_from_db()
    assert search.status == "finished", search.error
    diverged = search.candidates.get(index=1)
    assert diverged.status == "diverged" and not diverged.accepted
    assert search.candidates.count() > 2  # width, op phases still ran
    assert search.best.status == "ok"
    assert media_path(search.outputs["pt"]).is_file()


def test_a_job_timeout_fails_the_search_with_the_reason_and_keeps_candidates(search, monkeypatch):
    from searchapp.nas import executors

    real_train = executors.CandidateTrainer.__call__
    calls, woke = [], []

    def _train(self, arch, on_epoch):
        calls.append(arch.key)
        if len(calls) == 2:
            time.sleep(120)  # candidate 1 hangs; RQ's SIGALRM interrupts it
            woke.append(arch.key)
        return real_train(self, arch, on_epoch)

    monkeypatch.setattr(executors.CandidateTrainer, "__call__", _train)
    job_id = _enqueue(search, job_timeout=8)
    _work()
    assert not woke  # the job timeout ended the hang, not the hang itself
    search.refresh_from_db()
    assert search.status == "failed"
    assert search.error.startswith("timed out"), search.error
    assert "SEARCH_JOB_TIMEOUT" in search.error
    assert list(search.candidates.values_list("index", "status")) == [(0, "ok")]
    job = django_rq.get_queue("gpu").fetch_job(job_id)
    assert job.get_status() == "failed"  # RQ keeps the traceback too


def test_a_full_disk_while_saving_weights_fails_the_search_and_serves_nothing(
    search, monkeypatch, alice_client
):
    from searchapp.nas import export

    real_save = torch.save

    def save(obj, path, *args, **kwargs):
        if str(path).endswith("model.pt.tmp"):
            with open(path, "wb") as f:
                f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(export.torch, "save", save)
    _enqueue(search)
    _work()
    search.refresh_from_db()
    assert search.status == "failed"
    assert search.error.startswith("disk full while writing model.pt"), search.error
    assert search.candidates.filter(status="ok").count() >= 3  # what it found is kept
    folder = search_dir(search.pk)
    assert not (folder / "model.pt").exists()
    assert not list(folder.glob(".*.tmp"))  # the partial file is gone
    for url in (
        f"/searches/{search.pk}/download/pt/",
        f"/api/searches/{search.pk}/weights/pt/",
        f"/searches/{search.pk}/download/onnx/",
    ):
        assert alice_client.get(url).status_code == 404, url


def test_cancel_during_training_stops_within_one_epoch_and_keeps_results(search, monkeypatch, sent):
    _set(search, epochs=3)
    monkeypatch.setattr("searchapp.tasks.queue.CANCEL_POLL_SECONDS", 0)
    real_epoch = search_task.EventRecorder.epoch

    def epoch(self, s, event):
        if event["index"] == 1 and event["epoch"] == 1:
            Search.objects.filter(pk=s.pk).update(cancel_requested=True)  # the Cancel button
        return real_epoch(self, s, event)

    monkeypatch.setattr(search_task.EventRecorder, "epoch", epoch)
    _enqueue(search)
    _work()
    search.refresh_from_db()
    assert search.status == "cancelled"
    epochs_of_1 = [m["epoch"] for m in sent if m["type"] == "candidate.epoch" and m["index"] == 1]
    assert epochs_of_1 == [1]  # the next epoch never started
    assert list(search.candidates.values_list("index", "status")) == [(0, "ok")]
    assert search.best.index == 0 and media_path(search.outputs["pt"]).is_file()


# ----------------------------------------------------------------------------- queued twice


def test_a_search_queued_twice_runs_once(search, sent):
    first = _enqueue(search)
    second = _enqueue(search)  # e.g. a double click, or a reconciler racing the user
    queue = django_rq.get_queue("gpu")
    assert queue.count == 2
    _work()
    search.refresh_from_db()
    assert search.status == "finished"
    assert queue.fetch_job(first).return_value()["status"] == "skipped"
    assert queue.fetch_job(second).return_value()["status"] == "finished"
    started = [m["candidate"]["index"] for m in sent if m["type"] == "candidate.started"]
    assert len(started) == len(set(started)) == search.candidates.count()


def test_the_same_job_queued_twice_runs_once(search, sent):
    job_id = _enqueue(search)
    django_rq.get_queue("gpu").enqueue(search_task.run_search_job, search.pk, job_id=job_id)
    _work()
    search.refresh_from_db()
    assert search.status == "finished"
    started = [m["candidate"]["index"] for m in sent if m["type"] == "candidate.started"]
    assert len(started) == len(set(started)) == search.candidates.count()
    finished = [m for m in sent if m["type"] == "search.finished"]
    assert len(finished) == 1


def test_a_job_stays_out_while_another_runner_holds_the_lease(search, sent):
    job_id = _enqueue(search)
    other = Lease(django_rq.get_connection("gpu"), search.pk, job_id)
    assert other.acquire()  # a live runner elsewhere (same job id, another machine)
    try:
        _work()
    finally:
        other.release()
    search.refresh_from_db()
    assert search.status == "queued" and search.candidates.count() == 0 and not sent
    job = django_rq.get_queue("gpu").fetch_job(job_id)
    assert job.return_value() == {
        "status": "skipped",
        "reason": "another job is running this search",
    }
