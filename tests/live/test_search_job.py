"""The search job: a real RQ worker, a real Redis, a real (tiny) search on CPU."""

import asyncio

import django_rq
import pytest
import torch
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from rq.worker import SimpleWorker

from searchapp.models import Search
from searchapp.searches import enqueue_search
from searchapp.storage import media_path
from searchapp.tasks import broadcast
from searchapp.tasks import search as search_task


async def _drain(layer, channel, timeout=10.0) -> list[dict]:
    """Messages sent to `channel` until search.finished (or nothing for `timeout` seconds)."""
    out = []
    while True:
        try:
            msg = await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return out
        out.append(msg["message"])
        if msg["message"]["type"] == "search.finished":
            return out


def _listen(search_id):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"search-{search_id}", channel)
    return layer, channel


def test_a_worker_runs_a_real_search_and_broadcasts_each_event(
    search, redis_layer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_search(search)
    layer, channel = _listen(search.pk)
    queue = django_rq.get_queue("gpu")
    assert queue.count == 1
    worker = SimpleWorker([queue], connection=queue.connection)
    assert worker.work(burst=True)

    search.refresh_from_db()
    assert search.status == "finished", search.error
    assert search.finished and search.started and search.best is not None
    candidates = list(search.candidates.order_by("index"))
    assert [c.index for c in candidates] == list(range(len(candidates)))
    assert len(candidates) >= 3
    assert all(c.status in ("ok", "diverged") and c.record["key"] for c in candidates)
    phases = {c.phase for c in candidates}
    assert {"depth", "width", "op"} <= phases

    # The group got every event, in order, numbered 1..seq, ending with search.finished.
    messages = async_to_sync(_drain)(layer, channel)
    assert [m["seq"] for m in messages] == list(range(1, search.seq + 1))
    kinds = [m["type"] for m in messages]
    assert kinds.count("candidate.finished") == len(candidates)
    assert {"search.phase", "candidate.started", "candidate.epoch"} <= set(kinds)
    assert messages[-1]["type"] == "search.finished"
    assert messages[-1]["search"]["status"] == "finished"
    assert set(messages[-1]["search"]["downloads"]) >= {"pt", "onnx"}
    assert "export" in [m.get("phase") for m in messages if m["type"] == "search.phase"]

    # After the search, the job wrote the int8 files and checked each file on the test split.
    for kind in ("int8_onnx", "int8_tflite", "c_source", "c_header"):
        assert media_path(search.outputs[kind]).stat().st_size > 0, kind
    assert search.outputs["onnx"].endswith("model.onnx")  # not model_int8.onnx (same suffix)
    assert set(search.exports) == {
        *("pt", "onnx", "int8_onnx", "int8_tflite", "c_source", "c_header"),
        *("tflm", "arduino"),  # the int8 model run in TFLM, and the Arduino library
    }
    assert search.exports["tflm"]["arena_bytes"] > 0
    for kind in ("pt", "onnx", "int8_onnx", "int8_tflite"):
        assert search.exports[kind]["test_acc"] is not None, search.exports[kind]

    # Weights and ONNX are written; the .pt loads safely.
    ckpt = torch.load(media_path(search.outputs["pt"]), weights_only=True)
    assert ckpt
    assert media_path(search.outputs["onnx"]).stat().st_size > 0
    assert not (media_path(f"searches/{search.pk}") / "work").exists()


def _cancel_after_first_candidate(monkeypatch):
    monkeypatch.setattr("searchapp.tasks.queue.CANCEL_POLL_SECONDS", 0)
    original = search_task.EventRecorder.finished

    def finished(self, search, event):
        payload = original(self, search, event)
        Search.objects.filter(pk=search.pk).update(cancel_requested=True)
        return payload

    monkeypatch.setattr(search_task.EventRecorder, "finished", finished)


def test_a_cancelled_search_keeps_what_it_found(search, monkeypatch):
    _cancel_after_first_candidate(monkeypatch)
    result = search_task.run_search_job(search.pk)
    search.refresh_from_db()
    assert result["status"] == "cancelled"
    assert search.status == "cancelled"
    assert search.candidates.count() == 1
    assert search.candidates.get().status != "running"
    assert search.best is not None
    assert media_path(search.outputs["pt"]).is_file()


def test_a_rerun_replays_saved_candidates_instead_of_training_them(search, monkeypatch):
    sent = []
    monkeypatch.setattr(broadcast, "publish", lambda sid, msg: sent.append(msg))
    with monkeypatch.context() as m:
        _cancel_after_first_candidate(m)
        search_task.run_search_job(search.pk)
    assert search.candidates.count() == 1
    first = search.candidates.get()
    Search.objects.filter(pk=search.pk).update(cancel_requested=False, status="queued")
    sent.clear()

    search_task.run_search_job(search.pk)
    search.refresh_from_db()
    assert search.status == "finished"
    started = [m["candidate"]["index"] for m in sent if m["type"] == "candidate.started"]
    finished = [m for m in sent if m["type"] == "candidate.finished"]
    assert 0 not in started  # candidate 0 came back from the database, not from training
    assert finished[0]["replayed"] is True
    assert finished[0]["candidate"]["test_acc"] == first.test_acc
    indexes = list(search.candidates.values_list("index", flat=True))
    assert len(indexes) == len(set(indexes)) > 1


def test_a_failed_search_says_why_and_reraises(search, dataset):
    media_path(dataset.npz_path).unlink()
    with pytest.raises(Exception):
        search_task.run_search_job(search.pk)
    search.refresh_from_db()
    assert search.status == "failed"
    assert "npz" in search.error or "No such file" in search.error
    assert search.finished is not None


def test_a_search_cancelled_while_queued_never_runs(search):
    Search.objects.filter(pk=search.pk).update(cancel_requested=True)
    assert search_task.run_search_job(search.pk) == {"status": "cancelled"}
    search.refresh_from_db()
    assert search.status == "cancelled"
    assert search.candidates.count() == 0


def test_importing_the_job_module_does_not_load_the_engine():
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup(); import searchapp.tasks.search; "
        "print('torch' in sys.modules, 'searchapp.nas.search' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "mininas_web.settings"},
    )
    assert out.stdout.split() == ["False", "False"], out.stderr
